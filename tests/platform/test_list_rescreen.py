"""A list import re-screens every customer against the entries it added or changed
(issue 16): the hits become alerts in the customer's case, sourced from the snapshot; the
same content again re-screens nothing; a cleared pair stays cleared; removed entries and
names that do not match raise nothing. SQLite and PostgreSQL (the `platform` fixture)."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.compliance import Alert, Case, CaseState
from corridor.platform.domain.identity import User
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import monitoring, rescreen
from corridor.platform.services.screening import ListFiles
from tests.platform.conftest import keyed, make_staff, make_user
from tests.platform.payment_fakes import kyc
from tests.platform.payment_records import make_org

HEADER = b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
FIRST = b'"b1","OFAC","ORTEGA, Maribel","Individual","",1970-01-01,VE,"VENEZUELA"\n'
ADDED = (b'"a2","OFAC","KHOROSHEV, Dmitry Yuryevich","Individual","LOCKBITSUPP",'
         b'1993-04-17,RU,"CYBER2"\n')
ORG = b'"e1","OFAC","VOLGATRANS SHIPPING JSC","Entity","",,RU,"RUSSIA-EO14024"\n'


def files(*rows: bytes) -> ListFiles:
    return ListFiles(file_name="consolidated.csv", main=HEADER + b"".join(rows))


def alerts(platform: bootstrap.Platform, user_id: str) -> list[Alert]:
    with platform.deps.reader() as uow:
        return uow.repo(Alert).many(subject_type="user", subject_id=user_id)


def test_an_added_entry_alerts_the_customer_bearing_its_name_once(
        platform: bootstrap.Platform) -> None:
    deps = platform.deps
    first, again = rescreen.import_list(deps, None, files(FIRST), ListFormat.CSL)
    assert first.new and again.alerts == 0
    listed = make_user(platform, email="dave@example.com", name="Dmitry Khoroshev")
    clean = make_user(platform, email="carol@example.com", name="Carol Customer")
    # a KYC record's name wins over the registered one (the test helper's record is empty)
    kyc(platform, clean.user.id, 1)
    assert monitoring.ScreeningMonitor in {type(m) for m in deps.monitors}
    screener = next(m for m in deps.monitors if isinstance(m, monitoring.ScreeningMonitor))
    assert screener.screen("Dmitry Khoroshev") == []  # caches the index of version 1

    out, done = rescreen.import_list(deps, None, files(FIRST, ADDED), ListFormat.CSL)
    assert out.new and out.snapshot.added == 1
    assert done.screened == 2 and done.alerts == 1
    [alert] = alerts(platform, listed.user.id)
    assert (alert.source_type, alert.source_id) == ("list", out.snapshot.id)
    assert alert.explanation["hits"][0]["source_id"] == "a2"
    with deps.reader() as uow:
        case = uow.repo(Case).get(alert.case_id)
    assert case is not None and case.state == CaseState.OPEN
    assert case.subject_id == listed.user.id
    assert alerts(platform, clean.user.id) == []
    assert screener.screen("Dmitry Khoroshev")  # the cached index was refreshed

    same, none = rescreen.import_list(deps, None, files(FIRST, ADDED), ListFormat.CSL)
    assert not same.new and none == rescreen.Rescreened()
    removed, gone = rescreen.import_list(deps, None, files(ADDED), ListFormat.CSL)
    assert removed.snapshot.removed == 1 and gone == rescreen.Rescreened()
    assert len(alerts(platform, listed.user.id)) == 1


def test_a_cleared_pair_is_not_alerted_again(platform: bootstrap.Platform,
                                             client: TestClient) -> None:
    deps = platform.deps
    officer = make_staff(platform, "compliance_officer")
    listed = make_user(platform, email="dave@example.com", name="Dmitry  Khoroshev")
    rescreen.import_list(deps, None, files(FIRST), ListFormat.CSL)
    _, done = rescreen.import_list(deps, None, files(FIRST, ADDED), ListFormat.CSL)
    assert done.alerts == 1
    [alert] = alerts(platform, listed.user.id)
    r = client.post(f"/v1/staff/compliance/cases/{alert.case_id}/decisions",
                    headers=keyed(officer.headers),
                    json={"kind": "clear", "alert_id": alert.id, "note": "another one"})
    assert r.status_code == 200, r.text
    rescreen.import_list(deps, None, files(FIRST), ListFormat.CSL)  # removed: nothing
    back, done = rescreen.import_list(deps, None, files(FIRST, ADDED), ListFormat.CSL)
    assert back.snapshot.added == 1 and done.screened == 1 and done.alerts == 0
    assert len(alerts(platform, listed.user.id)) == 1
    with deps.uow() as uow:  # another name is another pair: screened anew
        uow.repo(User).update(dataclasses.replace(listed.user, name="Dmitrii Khoroshev"))
        uow.commit()
    rescreen.import_list(deps, None, files(FIRST), ListFormat.CSL)
    _, done = rescreen.import_list(deps, None, files(FIRST, ADDED), ListFormat.CSL)
    assert done.alerts == 1 and len(alerts(platform, listed.user.id)) == 2


def test_customers_and_organisations_are_read_in_batches(platform: bootstrap.Platform,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    deps = platform.deps
    monkeypatch.setattr(rescreen, "BATCH", 2)
    users = [make_user(platform, email=f"u{i}@example.com", name=f"Plain Person{i}")
             for i in range(4)]
    listed = make_user(platform, email="z@example.com", name="Dmitry Khoroshev")
    org_id = make_org(platform, {"owner": users[0]}, name="Volgatrans Shipping JSC")
    plain_org = make_org(platform, {"owner": users[1]}, name="Acme Ltd")
    _, done = rescreen.import_list(deps, None, files(ADDED, ORG), ListFormat.CSL)
    assert done.screened == len(users) + 3 and done.alerts == 2
    with deps.reader() as uow:
        assert len(uow.repo(Alert).many(subject_type="org", subject_id=org_id)) == 1
        assert uow.repo(Alert).many(subject_type="org", subject_id=plain_org) == []
    assert len(alerts(platform, listed.user.id)) == 1
    assert all(alerts(platform, u.user.id) == [] for u in users)
