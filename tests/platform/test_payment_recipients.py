"""Who a payment goes to (issue 14): the preview does not tell who is a customer (a
masked recipient, the same answer for unknown details, lookups limited per user; item 8),
a recipient that cannot receive the asset is refused up front (item 15), and recipients
are shown the sender's verified name, not the display name the sender chose (item 11)."""
# The fixtures of test_payments.py (a platform on a fake chain and clock, Alice, Bob) are
# imported by name, so test parameters redefine them by design:
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.testclient import TestClient

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.platform import bootstrap
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.transfers import Transfer
from corridor.platform.domain.wallets import Authorisation, AuthStatus
from corridor.platform.services.ledger_port import ChainAccount, ChainHolding
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import ISSUER_ADDRESS, FakeChain, commit, kyc, open_wallet
from tests.platform.test_payments import (  # noqa: F401  (fixtures)
    Party,
    alice,
    bob,
    chain,
    client,
    clock,
    platform,
)
from tests.platform.wallet_fakes import use_ledger

PREVIEW = "/v1/payments/preview"


def preview(client: TestClient, who: Party | Actor, recipient: dict[str, str],
            **body: str) -> Any:
    return client.post(PREVIEW, headers=who.headers,
                       json={"recipient": recipient, "asset": "USD", "amount": "1", **body})


def create(client: TestClient, who: Party | Actor, recipient: dict[str, str], key: str,
           asset: str = "USD") -> Any:
    return client.post("/v1/payments", headers={**who.headers, "Idempotency-Key": key},
                       json={"recipient": recipient, "asset": asset, "amount": "1"})


def nothing_made(platform: bootstrap.Platform) -> None:
    with platform.deps.uow() as uow:
        assert uow.repo(Payment).count() == 0 and uow.repo(Transfer).count() == 0


# --- item 8: no enumeration through the preview ------------------------------------------


def test_a_preview_looks_the_same_for_unknown_and_known_recipients(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party) -> None:
    known = preview(client, alice, {"type": "user", "email": "dave@example.com"})
    unknown = preview(client, alice, {"type": "user", "email": "dxx@example.com"})
    assert known.status_code == unknown.status_code == 200, (known.text, unknown.text)
    assert known.json() == unknown.json()  # nothing tells them apart
    assert known.json()["recipient_name"] == "d***@example.com"
    assert known.json()["recipient_address"] is None
    text = known.text
    assert "Dave" not in text and bob.wallet.address not in text
    by_phone = preview(client, alice, {"type": "user", "phone": "+44 20 7946 0958"})
    assert by_phone.status_code == 200 and by_phone.json()["recipient_name"] == "***0958"
    by_address = preview(client, alice, {"type": "address", "address": bob.wallet.address})
    assert by_address.status_code == 200 and "Dave" not in by_address.text
    assert by_address.json()["recipient_name"] == ""

    refused = create(client, alice, {"type": "user", "email": "dxx@example.com"}, "k-1")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "RECIPIENT_NOT_FOUND"
    nothing_made(platform)
    made = create(client, alice, {"type": "user", "email": "dave@example.com"}, "k-2")
    assert made.status_code == 201 and made.json()["recipient_name"] == "Dave Customer"


def test_recipient_lookups_are_limited_per_user(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party) -> None:
    answers = [preview(client, alice, {"type": "user", "email": f"u{n}@example.com"})
               for n in range(25)]
    codes = [r.status_code for r in answers]
    assert codes == [200] * 20 + [429] * 5
    assert answers[-1].json()["error"]["code"] == "RATE_LIMITED"
    refused = create(client, alice, {"type": "user", "email": "nobody@example.com"}, "k")
    assert refused.status_code == 429  # failed creations are lookups too
    # a bank recipient is not a lookup; another customer has their own count
    bank = {"type": "external", "name": "Erika Mustermann", "iban": "DE89370400440532013000",
            "country": "DE", "bank_code": "COBADEFFXXX"}
    assert preview(client, alice, bank, asset="EUR").status_code != 429
    dave = bob.actor
    assert preview(client, dave, {"type": "user", "email": "carol@example.com"}
                   ).status_code != 429


# --- item 15: a recipient who cannot receive the asset is refused before anything moves ---


def test_a_recipient_whose_tier_does_not_allow_the_asset_is_refused(
        client: TestClient, platform: bootstrap.Platform, alice: Party, chain: FakeChain,
        other_customer: Actor) -> None:
    kyc(platform, other_customer.user.id, 1)  # USD and EUR only
    basic = open_wallet(platform, other_customer.user.id)
    chain.fund(alice.wallet.address, "CNY", 100_000)
    unverified = make_user(platform, email="una@example.com")  # no KYC: holds nothing
    none = open_wallet(platform, unverified.user.id)
    for n, (address, asset) in enumerate(((basic.address, "CNY"), (none.address, "USD"))):
        to = {"type": "address", "address": address}
        r = preview(client, alice, to, asset=asset)
        assert r.status_code == 422 and r.json()["error"]["code"] == "RECIPIENT_CANNOT_RECEIVE"
        assert "tier" in r.json()["error"]["fields"]["recipient"]
        r = create(client, alice, to, f"a-{n}", asset)
        assert r.status_code == 422 and r.json()["error"]["code"] == "RECIPIENT_CANNOT_RECEIVE"
    # named by e-mail: the preview does not tell (item 8); the creation refuses alike
    to_una = {"type": "user", "email": "una@example.com"}
    assert preview(client, alice, to_una).status_code == 200
    r = create(client, alice, to_una, "e-1")
    assert r.status_code == 422 and r.json()["error"]["code"] == "RECIPIENT_CANNOT_RECEIVE"
    nothing_made(platform)


def test_an_unauthorised_or_frozen_wallet_is_refused(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        chain: FakeChain, other_customer: Actor) -> None:
    with platform.deps.uow() as uow:
        auth = uow.repo(Authorisation).one(wallet_id=bob.wallet.id, asset_code="USD")
        assert auth is not None
        uow.repo(Authorisation).update(dataclasses.replace(auth, status=AuthStatus.FAILED))
        uow.commit()
    to_bob = {"type": "address", "address": bob.wallet.address}
    for r in (preview(client, alice, to_bob), create(client, alice, to_bob, "f-1")):
        assert r.status_code == 422 and r.json()["error"]["code"] == "RECIPIENT_CANNOT_RECEIVE"
        assert "authorised" in r.json()["error"]["fields"]["recipient"]

    erin = make_user(platform, email="erin@example.com")
    kyc(platform, erin.user.id, 2)
    frozen = open_wallet(platform, erin.user.id)
    use_ledger(platform, FrozenFor(chain, frozen.address))
    to_erin = {"type": "address", "address": frozen.address}
    for r in (preview(client, alice, to_erin), create(client, alice, to_erin, "f-2")):
        assert r.status_code == 422 and r.json()["error"]["code"] == "RECIPIENT_CANNOT_RECEIVE"
        assert "frozen" in r.json()["error"]["fields"]["recipient"]
    nothing_made(platform)


def test_an_address_the_platform_does_not_keep_is_checked_on_chain(
        client: TestClient, platform: bootstrap.Platform, alice: Party,
        chain: FakeChain) -> None:
    """Issue 15: an address outside the platform whose account holds no USD (the issuer
    never authorised it) or that has no account at all previewed fine, was accepted with
    201 and failed on chain (NOT_AUTHORISED / UNKNOWN_ACCOUNT), then refunded."""
    euro_only, absent = (keys.encode_address(keys.address_of(
        KeyPair.from_seed(bytes([n]) * 32).public_key)) for n in (7, 8))
    chain.fund(euro_only, "EUR", 0)
    for n, (address, why) in enumerate(((euro_only, "authorised for USD"),
                                        (absent, "no account"))):
        to = {"type": "address", "address": address}
        for r in (preview(client, alice, to), create(client, alice, to, f"o-{n}")):
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "RECIPIENT_CANNOT_RECEIVE"
            assert why in r.json()["error"]["fields"]["recipient"]
    nothing_made(platform)
    chain.fund(euro_only, "USD", 0)  # authorised now: accepted
    to = {"type": "address", "address": euro_only}
    assert preview(client, alice, to).status_code == 200
    assert create(client, alice, to, "o-ok").status_code == 201


@dataclasses.dataclass
class FrozenFor:
    """The chain as `chain` has it, except that `address` holds a frozen USD holding."""

    chain: FakeChain
    address: str

    def account(self, address: str) -> ChainAccount | None:
        if address != self.address:
            return self.chain.account(address)
        return ChainAccount(address=address, sequence=1, holdings=(ChainHolding(
            code="USD", issuer=ISSUER_ADDRESS, balance_minor=5, authorised=True,
            frozen=True),))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.chain, name)


# --- item 11: recipients see the sender's verified name -----------------------------------


def test_the_recipient_sees_the_senders_verified_name(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        chain: FakeChain) -> None:
    deps = platform.deps
    with deps.uow() as uow:  # Carol chose "Carol Customer"; her documents say otherwise
        rec = uow.repo(KycCustomer).one(subject_type="user", subject_id=alice.actor.user.id)
        assert rec is not None
        data = json.dumps({"first_name": "Caroline", "last_name": "Verified"}).encode()
        uow.repo(KycCustomer).update(dataclasses.replace(
            rec, data_enc=deps.sealer.seal(data, f"kyc-customer:{rec.id}")))
        uow.commit()
    p = create(client, alice, {"type": "user", "email": "dave@example.com"}, "n-1").json()
    commit(platform, chain, p["id"])
    page = client.get("/v1/history", headers=bob.headers).json()
    (row,) = [item for item in page["items"] if item.get("payment_id") == p["id"]]
    assert row["counterparty"] == "Caroline Verified"
    html = client.get(f"/v1/payments/{p['id']}/receipt.html", headers=bob.headers).text
    assert "Caroline Verified" in html and "Carol Customer" not in html

    with deps.uow() as uow:
        stored = uow.repo(Payment).get(p["id"])
    assert stored is not None and stored.sender_name == "Caroline Verified"
