"""The audit trail: staff read access, and a chain that exposes any tampering."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.tables_core import audit_log
from corridor.platform.services import audit
from tests.platform.conftest import Actor, make_staff


def _append(p: bootstrap.Platform, n: int) -> None:
    for i in range(n):
        with p.deps.uow() as uow:
            uow.audit(actor_id=None, actor_kind="system", action="test.event",
                      object_type="thing", object_id=f"t{i}", before={"n": i},
                      after={"n": i + 1, "when": "now"})
            uow.commit()


def test_auditor_reads_and_verifies_customers_cannot(
    client: TestClient, platform: bootstrap.Platform, customer: Actor
) -> None:
    _append(platform, 3)
    auditor = make_staff(platform, "auditor")
    rows = client.get("/v1/staff/audit", headers=auditor.headers).json()
    assert [r["object_id"] for r in rows] == ["t2", "t1", "t0"]  # newest first
    one = client.get("/v1/staff/audit?object_id=t1", headers=auditor.headers).json()
    assert len(one) == 1 and one[0]["after"] == {"n": 2, "when": "now"}
    assert client.get("/v1/staff/audit/verify", headers=auditor.headers).json()["ok"]
    for who in (customer, make_staff(platform, "support_agent")):
        assert client.get("/v1/staff/audit", headers=who.headers).status_code == 403
        assert client.get("/v1/staff/audit/verify", headers=who.headers).status_code == 403
    assert client.get("/v1/staff/audit").status_code == 401


def test_an_edited_entry_breaks_the_chain(platform: bootstrap.Platform) -> None:
    _append(platform, 5)
    assert audit.verify(platform.deps).ok
    with platform.engine.begin() as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 3)
                     .values(after={"n": 999, "when": "now"}))
    report = audit.verify(platform.deps)
    assert not report.ok and report.problem == "entry 3 was altered"


def test_a_removed_entry_or_tail_breaks_the_chain(platform: bootstrap.Platform) -> None:
    _append(platform, 5)
    with platform.engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 5))
    report = audit.verify(platform.deps)
    assert not report.ok and "head says 5" in (report.problem or "")
    with platform.engine.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
    report = audit.verify(platform.deps)
    assert not report.ok and report.problem == "entry 2 is missing (found 3)"
