"""An in-memory unit of work and repositories (cosmicpython's FakeUnitOfWork): service
tests run the use cases with no HTTP and no database.

Written against the ports of services/ports.py as they are (`Repo`, `UnitOfWork`, `Deps`
with its typed ports). The fake keeps the semantics the services rely on: a unit
of work sees the store as it was when it began plus its own writes; `commit()` publishes
them; leaving without a commit drops them. Filters are those of `Repo` (equality, None,
a tuple of values; strict bounds; order, paging, tallies). What it does not model: row
locks, the database's unique constraints, and the audit chain's hashes (entries are kept
as given, in order)."""

from __future__ import annotations

import collections
import copy
import dataclasses
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

from corridor.platform.adapters.static_rates import StaticRates
from corridor.platform.config import Settings
from corridor.platform.domain import fx
from corridor.platform.services import funds, retention
from corridor.platform.services.ports import Deps
from tests.platform.payment_fakes import FakeChain, FakeClock
from tests.platform.wallet_fakes import CountingKeyGen

R = TypeVar("R")
Rows = dict[type, dict[str, Any]]  # record type -> primary key -> record


def _key(record: Any) -> str:
    """A record's primary key: its `id`, or its first field for the few without one."""
    names = [f.name for f in dataclasses.fields(record)]
    return str(getattr(record, "id" if "id" in names else names[0]))


def _matches(record: Any, eq: dict[str, Any], above: dict[str, Any],
             below: dict[str, Any]) -> bool:
    for name, want in eq.items():
        got = getattr(record, name)
        if want is None:
            if got is not None:
                return False
        elif isinstance(want, tuple):
            if got not in want:
                return False
        elif got != want:
            return False
    # SQL's comparisons with NULL are never true: a None column fails every bound.
    return (all(getattr(record, n) is not None and getattr(record, n) > v
                for n, v in above.items())
            and all(getattr(record, n) is not None and getattr(record, n) < v
                    for n, v in below.items()))


class FakeRepo(Generic[R]):
    """`Repo[R]` over a dict: the unit of work's view of one record type."""

    def __init__(self, rows: dict[str, R], record_type: type[R]) -> None:
        self.rows = rows
        self.type = record_type

    def get(self, id: str, *, for_update: bool = False) -> R | None:
        return self.rows.get(id)

    def one(self, **eq: Any) -> R | None:
        found = self.many(**eq)
        assert len(found) <= 1, f"{self.type.__name__}: more than one row for {eq}"
        return found[0] if found else None

    def many(self, *, order_by: str | None = None, descending: bool = False,
             limit: int | None = None, offset: int = 0, above: dict[str, Any] | None = None,
             below: dict[str, Any] | None = None, for_update: bool = False,
             **eq: Any) -> list[R]:
        found = [r for r in self.rows.values() if _matches(r, eq, above or {}, below or {})]
        found.sort(key=_key)  # the primary key breaks ties, as the SQL repository's does
        if order_by is not None:
            found.sort(key=lambda r: getattr(r, order_by), reverse=descending)
        end = None if limit is None else offset + limit
        return found[offset:end]

    def count(self, **eq: Any) -> int:
        return len(self.many(**eq))

    def tally(self, columns: Sequence[str], *, above: dict[str, Any] | None = None,
              **eq: Any) -> list[tuple[tuple[Any, ...], int]]:
        counts = collections.Counter(tuple(getattr(r, c) for c in columns)
                                     for r in self.many(above=above, **eq))
        return list(counts.items())

    def add(self, record: R) -> None:
        key = _key(record)
        assert key not in self.rows, f"{self.type.__name__}: duplicate key {key}"
        self.rows[key] = record

    def update(self, record: R) -> None:
        key = _key(record)
        assert key in self.rows, f"{self.type.__name__}: update of missing row {key}"
        self.rows[key] = record

    def delete(self, id: str) -> None:
        retention.check_permitted(self.type, id)  # as the database adapter (SqlRepo.delete)
        self.rows.pop(id, None)


@dataclasses.dataclass
class FakeStore:
    """What is committed: records by type, the audit trail, and how many commits."""

    rows: Rows = dataclasses.field(default_factory=dict)
    audit: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    commits: int = 0

    def all(self, record_type: type[R]) -> list[R]:
        return list(self.rows.get(record_type, {}).values())

    def put(self, *records: Any) -> None:
        """Records as if committed earlier (a test's starting state)."""
        for r in records:
            self.rows.setdefault(type(r), {})[_key(r)] = r


class FakeUnitOfWork:
    """`UnitOfWork` over a FakeStore. Records are immutable, so a shallow copy of each
    table is a snapshot; `commit()` applies to the store what changed since the snapshot
    (so another unit's commit in between is kept, as the database would keep it)."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.begun: Rows = {}
        self.rows: Rows = {}
        self.audit_pending: list[dict[str, Any]] = []

    def __enter__(self) -> Self:
        self._begin()
        return self

    def _begin(self) -> None:
        self.begun = {t: dict(rows) for t, rows in self.store.rows.items()}
        self.rows = {t: dict(rows) for t, rows in self.begun.items()}
        self.audit_pending = []

    def __exit__(self, *exc: object) -> None:
        self.begun, self.rows, self.audit_pending = {}, {}, []  # uncommitted work dropped

    def repo(self, record_type: type[R]) -> FakeRepo[R]:
        return FakeRepo(self.rows.setdefault(record_type, {}), record_type)

    def commit(self) -> None:
        for t, rows in self.rows.items():
            before, stored = self.begun.get(t, {}), self.store.rows.setdefault(t, {})
            for key in before.keys() - rows.keys():
                stored.pop(key, None)
            stored.update({k: r for k, r in rows.items() if before.get(k) is not r})
        self.store.audit.extend(self.audit_pending)
        self.store.commits += 1
        self._begin()  # a later transaction on this unit starts from what is committed

    def audit_head(self) -> tuple[int, str]:
        return len(self.store.audit) + len(self.audit_pending), ""

    def audit(self, *, actor_id: str | None, actor_kind: str, action: str, object_type: str,
              object_id: str, before: dict[str, Any] | None = None,
              after: dict[str, Any] | None = None, ip: str = "") -> None:
        self.audit_pending.append(copy.deepcopy(dict(
            actor_id=actor_id, actor_kind=actor_kind, action=action,
            object_type=object_type, object_id=object_id, before=before, after=after,
            ip=ip)))


class CountingRandomness:
    """Ids and tokens that say in which order they were made (deterministic)."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_id(self) -> str:
        return f"id-{next(self._n):04d}"

    def token(self) -> str:
        return f"token-{next(self._n):04d}"

    def digits(self, n: int) -> str:
        return str(next(self._n)).zfill(n)[-n:]


class PlainSealer:
    """`Sealer` that only tags the text with its context: enough for services that seal
    and open (no secrecy is tested here; the vault has its own tests)."""

    def seal(self, plaintext: bytes, context: str) -> str:
        return f"{context}|{plaintext.hex()}"

    def open(self, sealed: str, context: str) -> bytes:
        bound, _, hexed = sealed.partition("|")
        assert bound == context, f"sealed for {bound}, opened for {context}"
        return bytes.fromhex(hexed)

    def keyed_hash(self, secret: str, context: str) -> str:
        return f"{context}#{secret}"

    def keyed_hash_matches(self, stored: str, secret: str, context: str) -> bool:
        return stored == self.keyed_hash(secret, context)


class MemoryFiles:
    def __init__(self) -> None:
        self.blobs: dict[str, tuple[bytes, str]] = {}

    def put(self, data: bytes, context: str) -> str:
        ref = f"file-{len(self.blobs) + 1}"
        self.blobs[ref] = (data, context)
        return ref

    def get(self, ref: str, context: str) -> bytes:
        data, bound = self.blobs[ref]
        assert bound == context
        return data

    def delete(self, ref: str) -> None:
        self.blobs.pop(ref, None)


class NoHasher:
    def hash(self, password: str) -> str:
        return f"plain:{password}"

    def verify(self, hashed: str, password: str) -> bool:
        return hashed == self.hash(password)

    def needs_rehash(self, hashed: str) -> bool:
        return False


class NoHistory:
    """The history read model is SQL (adapters/history.py); service tests that need it run
    on a database, so the fake refuses loudly rather than answering wrongly."""

    def page(self, *args: Any) -> list[Any]:
        raise AssertionError("the fake unit of work has no history read model")

    def count(self, *args: Any) -> int:
        raise AssertionError("the fake unit of work has no history read model")


def fake_deps(store: FakeStore, clock: FakeClock, chain: FakeChain, *,
              data_dir: Path = Path("/nonexistent"), **ports: Any) -> Deps:
    """Deps whose every port is in memory; `ports` replaces any of them by name (the chain
    is the `ledger` node port)."""
    uow: Callable[[], FakeUnitOfWork] = lambda: FakeUnitOfWork(store)  # noqa: E731
    return Deps(
        uow=uow, clock=clock, rand=CountingRandomness(), hasher=NoHasher(),
        sealer=PlainSealer(), files=MemoryFiles(),
        settings=Settings(data_dir=data_dir, database_url="sqlite://"),
        **{"keygen": CountingKeyGen(), "history": NoHistory(), "rates": StaticRates(),
           "fx_terms": fx.Terms(), "ledger": chain, "snapshots": funds.Snapshots(), **ports},
    )
