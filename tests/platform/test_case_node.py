"""A compliance case worked end to end against a real node and the platform's API server
(issue 16, "Done when"): a payment to a listed name is held; an officer freezes the
sender in the case and the node shows the holdings frozen (the freeze carrying the case,
its transaction and block); a second officer releases, which lifts the freeze first —
the payment waits on hold until the node shows the holdings unfrozen, then settles; the
releasing officer may not close the case, the first one closes it (four eyes). SQLite in
the default run, PostgreSQL in the long one."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.node.conftest import NodeProcess
from tests.platform.conftest import PASSWORD, keyed
from tests.platform.live import OFFICER_PASSWORD, Platform, sign_in, wait_until
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.platform.test_e2e_payments import JPEG, settled, wallet
from tests.platform.test_freezes_node import deposit, holdings


def import_list(service: Platform, tmp_path: Path) -> None:
    path = tmp_path / "consolidated.csv"
    path.write_bytes(LIST.main)
    done = subprocess.run(
        [sys.executable, "-m", "corridor.cli.main", "compliance", "lists", "import", str(path),
         "--format", "csl", "--data-dir", str(service.data_dir), "--database-url",
         service.db_url], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()


def onboard(api: httpx.Client, service: Platform, officer: dict[str, str], email: str,
            first: str, last: str) -> dict[str, str]:
    """A verified customer under `first last`, KYC accepted, wallet open and authorised."""
    terms = api.get("/v1/auth/terms").json()
    r = api.post("/v1/auth/register", json={"name": f"{first} {last}", "email": email,
                                            "password": PASSWORD, "accept_terms": True,
                                            **terms})
    assert r.status_code == 202, r.text
    r = api.post("/v1/auth/verify", json={"identifier": email, "code": service.code_for(email)})
    assert r.status_code == 200, r.text
    me = sign_in(api, service, email, PASSWORD)
    files = [api.post("/v1/kyc/files", headers=me,
                      files={"file": (f"{n}.jpg", JPEG, "image/jpeg")}).json()["id"]
             for n in ("id", "proof")]
    fields = {"first_name": first, "last_name": last, "birth_date": "1985-01-02",
              "address": "1 Main St", "city": "City", "postal_code": "12345",
              "address_country_code": "US", "email_address": email, "id_type": "passport",
              "id_country_code": "US", "id_number": "P" + uuid.uuid4().hex[:8],
              "id_expiration_date": "2034-01-01", "photo_id_front": files[0],
              "photo_proof_residence": files[1]}
    rid = api.put("/v1/kyc/customer", headers=me, json={"tier": 2, "fields": fields}).json()["id"]
    r = api.post(f"/v1/staff/kyc/{rid}/decision", headers=keyed(officer),
                 json={"decision": "accept", "reason": "documents verified", "tier": 2,
                       "risk": "low"})
    assert r.status_code == 200, r.text

    def ready() -> bool:
        items = api.get("/v1/wallets", headers=me).json()["items"]
        return bool(items) and items[0]["status"] == "open" and {
            a["status"] for a in items[0]["authorisations"]} == {"authorised"}

    wait_until(f"{email}'s wallet to be open and authorised", ready)
    return me


def case_of(api: httpx.Client, officer: dict[str, str], customer_id: str) -> dict[str, Any]:
    items = api.get("/v1/staff/compliance/cases", headers=officer).json()["items"]
    [found] = [c for c in items if c["subject_id"] == customer_id]
    r = api.get(f"/v1/staff/compliance/cases/{found['id']}", headers=officer)
    assert r.status_code == 200, r.text
    return dict(r.json())


def decide(api: httpx.Client, who: dict[str, str], case_id: str, kind: str) -> httpx.Response:
    return api.post(f"/v1/staff/compliance/cases/{case_id}/decisions", headers=keyed(who),
                    json={"kind": kind, "note": f"{kind}: listed recipient under review"})


# One database in the default run (SQLite: the embedded default a new user starts on);
# the PostgreSQL variant is `slow`, run by `bash scripts/test-long.sh` (every platform test
# below the processes, the cases' included, runs on both databases).
@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.slow)],
                         indirect=True)
def test_a_held_payment_frozen_in_its_case_is_released_and_unfrozen_on_chain(
        service: Platform, node: NodeProcess, api: httpx.Client, tmp_path: Path) -> None:
    import_list(service, tmp_path)
    service.cli("staff-add", "--email", "second@corridor.example", "--name", "Sam Second",
                "--role", "compliance_officer", "--password-stdin",
                stdin=OFFICER_PASSWORD + "\n")
    officer = sign_in(api, service, "officer@corridor.example", OFFICER_PASSWORD)
    second = sign_in(api, service, "second@corridor.example", OFFICER_PASSWORD)
    ann = onboard(api, service, officer, "ann@example.com", "Ann", "Example")
    first, last = LISTED.split()
    onboard(api, service, officer, "dmitry@example.com", first, last)
    ann_wallet = wallet(api, ann)
    ann_id, address = ann_wallet["owner_id"], ann_wallet["address"]
    deposit(api, ann, "100.00")

    # A payment to the listed name is held, in Ann's case.
    r = api.post("/v1/payments", headers=keyed(ann),
                 json={"recipient": {"type": "user", "email": "dmitry@example.com"},
                       "asset": "USD", "amount": "10.00"})
    assert r.status_code == 201 and r.json()["status"] == "on_hold", r.text
    payment_id = r.json()["id"]
    case = case_of(api, officer, ann_id)
    case_id = case["case"]["id"]
    assert [p["id"] for p in case["payments"]] == [payment_id]
    assert case["alerts"][0]["explanation"]["screened_name"] == LISTED

    # The officer freezes Ann in the case: the node shows every holding frozen.
    r = decide(api, officer, case_id, "freeze")
    assert r.status_code == 200 and r.json()["freeze"]["status"] == "requested", r.text
    wait_until("the freeze on chain",
               lambda: case_of(api, officer, ann_id)["freeze"]["status"] == "frozen")
    frozen = case_of(api, officer, ann_id)["freeze"]
    assert frozen["tx_id"] and frozen["height"] and frozen["reference"] == f"case {case_id}"
    codes = frozen["asset_codes"]
    held = holdings(node, address)
    assert "USD" in codes and all(held[c]["frozen"] is True for c in codes), held

    # Four eyes: the officer who froze cannot lift it by releasing; a second one does.
    mine = decide(api, officer, case_id, "release")
    assert mine.status_code == 403, mine.text
    r = decide(api, second, case_id, "release")
    assert r.status_code == 200, r.text
    assert r.json()["case"]["pending_release_by"] is not None
    wait_until("the release on chain",
               lambda: case_of(api, officer, ann_id)["freeze"]["status"] == "released")
    assert not any(holdings(node, address)[c]["frozen"] for c in codes)
    settled(api, ann, payment_id)
    after = case_of(api, officer, ann_id)
    assert after["case"]["pending_release_by"] is None and after["freeze"]["release_tx_id"]
    assert int(holdings(node, address)["USD"]["balance"]) < 10_000  # the payment left

    # The releasing officer does not close the case; the first officer does.
    r = decide(api, second, case_id, "close")
    assert r.status_code == 403 and r.json()["error"]["code"] == "FOUR_EYES", r.text
    r = decide(api, officer, case_id, "close")
    assert r.status_code == 200 and r.json()["case"]["state"] == "closed", r.text
