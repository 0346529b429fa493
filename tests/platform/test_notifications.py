"""The notifications inbox (issue 15) on both databases: each event writes its person's
notification in its own unit of work, exactly once however often it is replayed; the
inbox pages, counts unread, is capped, and only its owner reads or marks it. Also the
sign-in history the security centre shows, and e-mail/SMS text in the person's language."""

from __future__ import annotations

import dataclasses
import re

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain import identity as idn
from corridor.platform.domain import notifications as dom
from corridor.platform.domain.identity import User
from corridor.platform.domain.notifications import Notification, SubjectType, Topic
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import UserKind
from corridor.platform.services import codes, notifications, security, withdrawals
from tests.platform.conftest import PASSWORD, Actor, make_staff
from tests.platform.payment_fakes import open_wallet  # authorised for every demo asset
from tests.platform.rails_fakes import (
    IBAN_OK,
    credit,
    grant_tier,
    key,
    play,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
    sim_of,
    transfers,
)

CLOSED_ACCOUNT = "99000678"  # the simulated bank fails payouts to it (ACCOUNT_CLOSED)


def inbox(platform: bootstrap.Platform, who: Actor) -> list[Notification]:
    with platform.deps.uow() as uow:
        return uow.repo(Notification).many(user_id=who.user.id, order_by="created_ms")


def topics(platform: bootstrap.Platform, who: Actor) -> list[str]:
    return [n.topic for n in inbox(platform, who)]


def principal(who: Actor) -> Principal:
    return Principal(user_id=who.user.id, kind=UserKind(who.user.kind), staff_role=None,
                     session_id="s")


def withdraw(client: TestClient, platform: bootstrap.Platform, who: Actor, amount: str,
             account: str = IBAN_OK) -> str:
    r = client.post("/v1/withdrawals", headers={**who.headers, **key()}, json={
        "currency": "USD", "amount": amount,
        "bank": {"name": "Carol Customer", "account": account, "country": "GB",
                 "bank_code": "WESTGB2L"}})
    assert r.status_code == 201, r.text
    w_id: str = r.json()["id"]
    (burn,) = transfers(platform, ref_id=w_id, purpose="withdrawal")
    play(platform, burn.id)
    play(platform, burn.id)  # the chain's outcome, replayed
    return w_id


def test_money_events_notify_each_person_once_however_often_replayed(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    for who in (customer, other_customer):
        grant_tier(platform, who.user.id)
        open_wallet(platform, who.user.id)
    d = credit(client, platform, customer, "500.00")
    (mint,) = transfers(platform, ref_id=d["id"])
    play(platform, mint.id)  # replayed: the deposit was credited once, and notified once

    r = client.post("/v1/payments", headers={**customer.headers, **key()}, json={
        "recipient": {"type": "user", "email": "dave@example.com"}, "asset": "USD",
        "amount": "10.00"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    (t,) = transfers(platform, ref_id=pid)
    play(platform, t.id)
    play(platform, t.id)
    with platform.deps.uow() as uow:
        p = uow.repo(Payment).get(pid)
    assert p is not None and p.status == "credited"

    refund = client.post(f"/v1/payments/{pid}/refund", headers={**customer.headers, **key()},
                         json={"kind": "wrong_payee", "reason": "wrong person"})
    assert refund.status_code == 201, refund.text
    officer = make_staff(platform, "compliance_officer")
    decision = {**officer.headers, **key()}
    for _ in range(2):  # a retried decision under its key: one decision, one notification
        r = client.post(f"/v1/staff/refunds/{refund.json()['id']}/decision", headers=decision,
                        json={"decision": "reject", "reason": "the recipient is right"})
        assert r.status_code == 200, r.text

    paid = withdraw(client, platform, customer, "20.00")
    assert withdrawals.dispatch_payouts(platform.deps) == 1 and sim_of(platform).drain() == 1
    failed = withdraw(client, platform, customer, "30.00", CLOSED_ACCOUNT)
    withdrawals.dispatch_payouts(platform.deps)
    sim_of(platform).drain()

    notes = inbox(platform, customer)
    carol = {n.topic: n for n in notes}  # one of each
    assert len(notes) == len(carol) == 5
    assert {t: (n.subject_type, n.subject_id) for t, n in carol.items()} == {
        Topic.DEPOSIT_CREDITED: (SubjectType.DEPOSIT, d["id"]),
        Topic.PAYMENT_SETTLED: (SubjectType.PAYMENT, pid),
        Topic.REFUND_DECIDED: (SubjectType.PAYMENT, pid),
        Topic.WITHDRAWAL_PAID: (SubjectType.WITHDRAWAL, paid),
        Topic.WITHDRAWAL_FAILED: (SubjectType.WITHDRAWAL, failed)}
    assert carol[Topic.DEPOSIT_CREDITED].params == {
        "amount_minor": "50000", "currency": "USD", "reference": d["reference"]}
    assert carol[Topic.PAYMENT_SETTLED].params["amount_minor"] == str(p.sell_amount_minor)
    assert carol[Topic.REFUND_DECIDED].params["outcome"] == "reject"
    assert carol[Topic.WITHDRAWAL_FAILED].params["reason_code"] == "ACCOUNT_CLOSED"
    assert all(n.read_ms is None for n in notes)
    (dave,) = inbox(platform, other_customer)
    assert (dave.topic, dave.subject_id, dave.params) == (
        Topic.PAYMENT_RECEIVED, pid,
        {"amount_minor": str(p.buy_amount_minor), "currency": "USD"})


def test_a_payment_the_chain_refuses_tells_its_sender(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    for who in (customer, other_customer):
        grant_tier(platform, who.user.id)
        open_wallet(platform, who.user.id)
    credit(client, platform, customer, "100.00")
    r = client.post("/v1/payments", headers={**customer.headers, **key()}, json={
        "recipient": {"type": "user", "email": "dave@example.com"}, "asset": "USD",
        "amount": "10.00"})
    (t,) = transfers(platform, ref_id=r.json()["id"])
    play(platform, t.id, committed=False)
    play(platform, t.id, committed=False)
    assert sorted(topics(platform, customer)) == [Topic.DEPOSIT_CREDITED, Topic.PAYMENT_FAILED]
    (failed,) = [n for n in inbox(platform, customer) if n.topic == Topic.PAYMENT_FAILED]
    assert failed.params["reason_code"] == "UNDERFUNDED"
    assert topics(platform, other_customer) == []


def test_a_kyc_decision_and_security_changes_notify_the_person(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    rid = client.put("/v1/kyc/customer", headers=customer.headers, json={
        "fields": {"first_name": "Carol", "last_name": "Customer", "birth_date": "1990-02-03",
                   "address_country_code": "GB", "email_address": "carol@example.com"},
        "tier": 1}).json()["id"]
    officer = make_staff(platform, "compliance_officer")
    r = client.post(f"/v1/staff/kyc/{rid}/decision", headers={**officer.headers, **key()},
                    json={"decision": "reject", "reason": "document forged"})
    assert r.status_code == 200, r.text
    r = client.post("/v1/me/password", headers=customer.headers, json={
        "old_password": PASSWORD, "new_password": "a brand new passphrase 77"})
    assert r.status_code == 200, r.text
    r = client.post("/v1/me/email", headers=customer.headers, json={
        "address": "carol.new@example.com", "password": "a brand new passphrase 77"})
    assert r.status_code == 202, r.text
    (sent,) = codes.outbox(platform.deps, "carol.new@example.com", 1)
    code = re.search(r"\b(\d{6})\b", sent.body)
    assert code is not None
    r = client.post("/v1/me/email/verify", headers=customer.headers,
                    json={"code": code.group(1)})
    assert r.status_code == 200, r.text
    listed = inbox(platform, customer)
    notes = {n.topic: n for n in listed}
    assert len(listed) == len(notes) == 3  # one of each
    kyc_note, password_note, channel_note = (notes[Topic.KYC_DECIDED],
                                             notes[Topic.PASSWORD_CHANGED],
                                             notes[Topic.SECOND_FACTOR_CHANGED])
    assert (kyc_note.topic, kyc_note.subject_type, kyc_note.params["outcome"]) == (
        Topic.KYC_DECIDED, SubjectType.KYC, "reject")
    assert (password_note.topic, password_note.params) == (
        Topic.PASSWORD_CHANGED, {"change": "changed"})
    assert (channel_note.topic, channel_note.params) == (
        Topic.SECOND_FACTOR_CHANGED, {"change": "email"})


def test_the_inbox_pages_counts_unread_and_only_its_owner_marks_it(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    deps = platform.deps

    def note(event: str, who: Actor = customer) -> None:
        with deps.uow() as uow:
            notifications.record(deps, uow, user_id=who.user.id, topic=Topic.DEPOSIT_CREDITED,
                                 subject_type=SubjectType.DEPOSIT, subject_id=event,
                                 event=event, params={"amount_minor": 100, "currency": "USD"})
            uow.commit()

    for i in range(25):
        note(f"d{i:02}")
    note("d03")  # the same event again: nothing new
    note("theirs", other_customer)
    url = "/v1/me/notifications"
    first = client.get(url, headers=customer.headers, params={"limit": 10}).json()
    assert (first["total"], first["unread"], len(first["items"])) == (25, 25, 10)
    last = client.get(url, headers=customer.headers, params={"limit": 10, "offset": 20}).json()
    assert len(last["items"]) == 5
    seen = {i["id"] for i in first["items"]} | {i["id"] for i in last["items"]}
    assert len(seen) == 15  # pages do not overlap
    one = first["items"][0]["id"]
    assert first["items"][0]["topic"] == "deposit.credited"
    assert first["items"][0]["params"] == {"amount_minor": "100", "currency": "USD"}

    # someone else's notification is absent to them; nothing changes
    r = client.post(f"{url}/{one}/read", headers=other_customer.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert client.post(f"{url}/{one}0/read", headers=customer.headers).status_code == 404
    r = client.post(f"{url}/{one}/read", headers={**customer.headers,
                                                   "Idempotency-Key": "k" * 65})
    assert r.status_code == 422 and r.json()["error"]["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert client.get(url, headers=customer.headers).json()["unread"] == 25
    for _ in range(2):  # marking read twice is the same as once
        r = client.post(f"{url}/{one}/read", headers=customer.headers)
        assert r.status_code == 200 and r.json()["read_ms"] is not None
    unread = client.get(url, headers=customer.headers, params={"unread_only": True}).json()
    assert unread["total"] == unread["unread"] == 24
    assert one not in {i["id"] for i in unread["items"]}
    r = client.post(f"{url}/read-all", headers=customer.headers)
    assert r.json() == {"marked": 24, "unread": 0}
    assert client.post(f"{url}/read-all", headers=customer.headers).json()["marked"] == 0
    assert client.get(url, headers=other_customer.headers).json()["unread"] == 1
    assert client.get(url, headers=customer.headers, params={"limit": 0}).status_code == 422


def test_the_inbox_is_capped_and_read_ones_go_first(
        platform: bootstrap.Platform, customer: Actor) -> None:
    deps = platform.deps
    with deps.uow() as uow:
        for i in range(dom.PER_USER_MAX):
            notifications.record(deps, uow, user_id=customer.user.id,
                                 topic=Topic.SIGNED_IN, subject_type=SubjectType.SECURITY,
                                 subject_id=customer.user.id, event=f"s{i:04}")
        uow.commit()
    before = inbox(platform, customer)
    read_ids = {n.id for n in before[-3:]}  # three of the newest are read
    for n in before[-3:]:
        notifications.mark_read(deps, principal(customer), n.id)
    with deps.uow() as uow:
        for i in range(5):
            notifications.record(deps, uow, user_id=customer.user.id,
                                 topic=Topic.SIGNED_IN, subject_type=SubjectType.SECURITY,
                                 subject_id=customer.user.id, event=f"new{i}")
        uow.commit()
    kept = inbox(platform, customer)
    assert len(kept) == dom.PER_USER_MAX
    assert not read_ids & {n.id for n in kept}  # the read ones went first
    assert {f"{Topic.SIGNED_IN}:new{i}" for i in range(5)} <= {n.event_key for n in kept}
    gone = [n for n in before if n.id not in {k.id for k in kept} and n.id not in read_ids]
    assert len(gone) == 2  # then the oldest unread
    assert max(n.created_ms for n in gone) <= min(n.created_ms for n in kept)


def _sign_in(client: TestClient, platform: bootstrap.Platform, email: str, password: str,
             agent: str) -> int:
    r = client.post("/v1/auth/login", headers={"User-Agent": agent},
                    json={"identifier": email, "password": password})
    if r.status_code != 200:
        return r.status_code
    (notice, *_) = codes.outbox(platform.deps, email, 1)
    code = re.search(r"\b(\d{6})\b", notice.body)
    assert code is not None
    r = client.post("/v1/auth/login/verify", headers={"User-Agent": agent},
                    json={"challenge": r.json()["challenge"], "code": code.group(1)})
    return r.status_code


def test_sign_ins_and_failed_attempts_are_in_the_history_and_the_inbox(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    assert _sign_in(client, platform, "carol@example.com", "wrong password entirely",
                    "Evil/1.0") == 401
    assert _sign_in(client, platform, "carol@example.com", PASSWORD, "Firefox/130") == 200
    history = security.sign_in_history(platform.deps, principal(customer))
    assert [(h.result, h.user_agent, h.factor) for h in history] == [
        ("succeeded", "Firefox/130", "email"), ("failed", "Evil/1.0", "password")]
    assert all(h.ip == "testclient" for h in history)
    (signed_in,) = inbox(platform, customer)
    assert signed_in.topic == Topic.SIGNED_IN
    assert signed_in.params == {"ip": "testclient", "device": "Firefox/130"}


def _prefer(platform: bootstrap.Platform, who: Actor, language: str) -> None:
    with platform.deps.uow() as uow:
        user = uow.repo(User).get(who.user.id)
        assert user is not None
        uow.repo(User).update(dataclasses.replace(user, language=language))
        uow.commit()


@pytest.mark.parametrize(("language", "subject", "words"), [
    ("zh-Hans", "您的登录验证码", "验证码"), ("en", "Your sign-in code", "Your Corridor code is")])
def test_codes_and_notices_come_in_the_persons_language(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, language: str,
        subject: str, words: str) -> None:
    _prefer(platform, customer, language)
    r = client.post("/v1/auth/login", json={"identifier": "carol@example.com",
                                            "password": PASSWORD})
    assert r.status_code == 200, r.text
    (sent,) = codes.outbox(platform.deps, "carol@example.com", 1)
    assert sent.subject == subject and words in sent.body
    assert re.search(r"\b\d{6}\b", sent.body)  # the code itself, findable in either
    r = client.post("/v1/me/password", headers=customer.headers, json={
        "old_password": PASSWORD, "new_password": "a brand new passphrase 77"})
    assert r.status_code == 200
    (notice, *_) = codes.outbox(platform.deps, "carol@example.com", 5)
    assert notice.subject == ("您的密码已修改" if language == "zh-Hans"
                              else "Your password was changed")


def test_a_sign_up_gets_its_code_in_the_pages_language(platform: bootstrap.Platform) -> None:
    from corridor.platform.domain.principal import Origin
    from corridor.platform.services import registration

    registration.register(platform.deps, registration.Register(
        name="Li Lei", email="li@example.com", phone=None,
        password="mango tractor umbrella 42", accept_terms=True,
        terms_version=idn.TERMS_VERSION, privacy_version=idn.PRIVACY_VERSION,
        language="zh-Hans"), Origin())
    (sent,) = codes.outbox(platform.deps, "li@example.com", 1)
    assert sent.subject == "验证您的电子邮箱地址" and "分钟内有效" in sent.body
    with platform.deps.uow() as uow:
        user = uow.repo(User).one(email="li@example.com")
    assert user is not None and user.language == "zh-Hans"
