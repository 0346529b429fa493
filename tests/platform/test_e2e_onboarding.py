"""End to end with real processes, as README tells a new user: a node, the platform API
(`corridor platform serve`), a staff account made by the admin command, codes read from
the development outbox by the CLI. A customer registers, verifies, enables 2FA, signs in
with it, submits KYC; a compliance officer accepts it; the customer's account is then
authorised on the running node for every asset the tier allows."""

from __future__ import annotations

import time

import httpx
import pyotp
import pytest

from corridor.platform.domain import identity as idn
from tests.node.conftest import NodeProcess
from tests.platform.conftest import keyed
from tests.platform.live import JPEG, OFFICER_PASSWORD, PASSWORD, Platform, sign_in, wait_until


# One database in the default run: SQLite (test_e2e_payments.py runs PostgreSQL; every
# platform test below the processes runs on both); the PostgreSQL variant is `slow`, run
# by `bash scripts/test-long.sh`.
@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql",
                                                          marks=pytest.mark.slow)],
                         indirect=True)
def test_register_to_authorised_account_on_chain(service: Platform, node: NodeProcess,
                                                 api: httpx.Client) -> None:
    email = "ann@example.com"
    terms = api.get("/v1/auth/terms").json()
    r = api.post("/v1/auth/register", json={"name": "Ann Example", "email": email,
                                            "password": PASSWORD, "accept_terms": True, **terms})
    assert r.status_code == 202, r.text
    r = api.post("/v1/auth/verify", json={"identifier": email, "code": service.code_for(email)})
    assert r.status_code == 200, r.text

    me = sign_in(api, service, email, PASSWORD)
    secret = api.post("/v1/me/totp", headers=me).json()["secret"]
    totp = pyotp.TOTP(secret)
    step = int(time.time()) // 30
    r = api.post("/v1/me/totp/confirm", headers=me, json={"code": totp.generate_otp(step)})
    assert r.status_code == 200, r.text
    api.post("/v1/auth/logout", headers=me)

    def with_totp(ch: dict[str, str]) -> dict[str, str]:
        assert ch["method"] == "totp"
        # The next step's code: inside the ±1-step window and newer than the one used.
        return {"challenge": ch["challenge"], "code": totp.generate_otp(step + 1)}

    me = sign_in(api, service, email, PASSWORD, with_totp)
    assert api.get("/v1/me", headers=me).json()["totp_enabled"] is True

    photo = api.post("/v1/kyc/files", headers=me,
                     files={"file": ("passport.jpg", JPEG, "image/jpeg")}).json()["id"]
    proof = api.post("/v1/kyc/files", headers=me,
                     files={"file": ("bill.jpg", JPEG, "image/jpeg")}).json()["id"]
    fields = {"first_name": "Ann", "last_name": "Example", "birth_date": "1988-04-05",
              "address": "1 Harbour Rd", "city": "Singapore", "postal_code": "018989",
              "address_country_code": "SG", "email_address": email, "id_type": "passport",
              "id_country_code": "SG", "id_number": "E1234567X",
              "id_expiration_date": "2034-01-01", "photo_id_front": photo,
              "photo_proof_residence": proof}
    r = api.put("/v1/kyc/customer", headers=me, json={"tier": 2, "fields": fields})
    assert r.status_code == 200 and r.json()["status"] == "PROCESSING", r.text

    officer = sign_in(api, service, "officer@corridor.example", OFFICER_PASSWORD)
    queue = api.get("/v1/staff/kyc/queue", headers=officer).json()["items"]
    assert len(queue) == 1
    r = api.post(f"/v1/staff/kyc/{queue[0]['id']}/decision", headers=keyed(officer),
                 json={"decision": "accept", "reason": "passport and address checked",
                       "tier": 2, "risk": "low"})
    assert r.status_code == 200, r.text
    allowed = set(api.get("/v1/kyc/customer", headers=me).json()["limits"]["asset_codes"])
    assert allowed == {"USD", "EUR", "CNY", "HKD", "SGD"}

    def authorised_on_chain() -> bool:
        wallets = api.get("/v1/wallets", headers=me).json()["items"]
        if not wallets or wallets[0]["status"] != "open":
            return False
        if {a["status"] for a in wallets[0]["authorisations"]} != {"authorised"}:
            return False  # the platform records it once it has seen the commit
        acct = httpx.get(f"{node.url}/v1/accounts/{wallets[0]['address']}", timeout=5,
                         headers=node.headers)
        if acct.status_code != 200:
            return False
        return {b["code"] for b in acct.json()["balances"] if b["authorised"]} == allowed

    wait_until("the customer's account to be authorised on chain and in the platform",
               authorised_on_chain)
    wallet = api.get("/v1/wallets", headers=me).json()["items"][0]
    assert "key_sealed" not in wallet and wallet["custodial"] is True
    assert {a["status"] for a in wallet["authorisations"]} == {"authorised"}
    assert "audit chain intact" in service.cli("audit-verify")
    assert terms["terms_version"] == idn.TERMS_VERSION
