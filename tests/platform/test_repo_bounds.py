"""Repository range filters and tallies (SQLite and PostgreSQL): `above`/`below` are strict
bounds combined with the equality filters, a tuple filters by any of its values, and
`tally` counts rows per combination of values in the database."""

from __future__ import annotations

from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry


def test_bounds_and_tally(platform: bootstrap.Platform) -> None:
    with platform.deps.uow() as uow:
        for i in range(6):
            uow.audit(actor_id=None, actor_kind="system", action=f"test.{'ab'[i % 2]}",
                      object_type="t", object_id=str(i))
        uow.commit()
    with platform.deps.reader() as uow:
        repo = uow.repo(AuditEntry)
        assert [e.seq for e in repo.many(above={"seq": 1}, below={"seq": 5})] == [2, 3, 4]
        assert [e.seq for e in repo.many(action="test.a", above={"seq": 1})] == [3, 5]
        assert [e.seq for e in repo.many(below={"seq": 3}, order_by="seq",
                                         descending=True)] == [2, 1]
        assert sorted(repo.tally(("action",))) == [(("test.a",), 3), (("test.b",), 3)]
        assert sorted(repo.tally(("action", "object_type"), above={"seq": 4})) == [
            (("test.a", "t"), 1), (("test.b", "t"), 1)]
        assert repo.tally(("action",), object_type="none") == []
        # a tuple: any of its values (one statement per shape, whatever the tuple's length)
        assert [e.seq for e in repo.many(object_id=("1", "4", "9"))] == [2, 5]
        assert [e.seq for e in repo.many(object_id=("0",), action="test.a")] == [1]
        assert repo.count(object_id=("2", "3")) == 2
        assert repo.one(object_id=("5", "nothing")) is not None
        assert repo.many(object_id=("nothing",)) == []
