"""KYC rules (A5) as pure functions: field validation, status transitions, decisions,
tiers and re-review dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

from corridor.platform.domain import kyc
from corridor.platform.domain.errors import Kind, PlatformError, Problems
from corridor.platform.domain.kyc import Decision, FieldStatus, KycStatus

TODAY = dt.date(2026, 6, 15)
NOW_MS = int(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC).timestamp()) * 1000
FILES = frozenset({"file-1", "file-2"})

BASIC = {"first_name": "Carol", "last_name": "Customer", "birth_date": "1990-02-03",
         "address_country_code": "GB", "email_address": "carol@example.com"}
FULL = {**BASIC, "address": "1 High St", "city": "London", "postal_code": "SW1A 1AA",
        "id_type": "passport", "id_country_code": "GB", "id_number": "123456789",
        "id_expiration_date": "2030-01-01", "photo_id_front": "file-1",
        "photo_proof_residence": "file-2"}


def norm(changes: dict[str, object], subject: str = "user") -> tuple[dict[str, object], Problems]:
    problems = Problems()
    out = kyc.normalise(subject, changes, today=TODAY, owned_files=FILES, problems=problems)
    return out, problems


def record(**kw: object) -> kyc.KycCustomer:
    rec = kyc.new_record(id="r1", subject_type="user", subject_id="u1", data_enc="",
                         now_ms=NOW_MS - 1000)
    return dataclasses.replace(rec, **kw)  # type: ignore[arg-type]


def test_valid_person_fields_are_put_in_canonical_form() -> None:
    out, problems = norm({"first_name": "  Carol   Ann ", "address_country_code": "gb",
                          "mobile_number": "+44 20 7946 0958",
                          "email_address": "Carol@Example.COM", "id_type": "id_card"})
    assert not problems
    assert out == {"first_name": "Carol Ann", "address_country_code": "GB",
                   "mobile_number": "+442079460958", "email_address": "carol@example.com",
                   "id_type": "id_card"}


def test_every_problem_is_reported_at_once() -> None:
    _, problems = norm({
        "birth_date": "2015-01-01",  # a child
        "address_country_code": "XX",
        "id_expiration_date": "2026-06-15",  # expires today
        "id_type": "library_card",
        "nickname": "cc",
        "photo_id_front": "someone-elses-file",
        "mobile_number": "12345",
        "first_name": "",
        "id_issue_date": "2030-01-01",
        "last_name": 7,
    })
    assert set(problems.fields) == {
        "birth_date", "address_country_code", "id_expiration_date", "id_type", "nickname",
        "photo_id_front", "mobile_number", "first_name", "id_issue_date", "last_name"}
    assert problems.fields["nickname"] == "unknown field"
    with pytest.raises(PlatformError) as exc:
        problems.raise_if_any()
    assert exc.value.code == "INVALID_FIELDS" and exc.value.kind is Kind.INVALID


@pytest.mark.parametrize("text", ["20000101", "2000-1-01", "2000-02-30", "2000-01-01T00:00"])
def test_dates_are_strict_iso(text: str) -> None:
    _, problems = norm({"birth_date": text})
    assert "birth_date" in problems.fields


def test_adulthood_is_counted_to_the_day() -> None:
    assert not norm({"birth_date": "2008-06-15"})[1]  # eighteen today
    assert norm({"birth_date": "2008-06-16"})[1]  # eighteen tomorrow
    assert norm({"birth_date": "1890-01-01"})[1]  # implausible


def test_org_fields_and_person_fields_do_not_mix() -> None:
    _, problems = norm({"first_name": "Carol"}, subject="org")
    assert problems.fields == {"first_name": "unknown field"}
    _, problems = norm({"organization.name": "Acme"}, subject="user")
    assert problems.fields == {"organization.name": "unknown field"}


def owner(name: str, percent: object) -> dict[str, object]:
    return {"name": name, "birth_date": "1970-01-01", "nationality": "de",
            "ownership_percent": percent}


def test_beneficial_owners_are_checked() -> None:
    out, problems = norm({kyc.OWNERS_FIELD: [owner("A", 60), owner("B", "25.5")]}, "org")
    assert not problems
    assert out[kyc.OWNERS_FIELD] == [
        {"name": "A", "birth_date": "1970-01-01", "nationality": "DE",
         "ownership_percent": "60"},
        {"name": "B", "birth_date": "1970-01-01", "nationality": "DE",
         "ownership_percent": "25.5"},
    ]
    for bad in ([owner("A", 60), owner("B", 41)],  # more than 100 in total
                [owner("A", 0)], [owner("A", 101)], [owner("A", "1.234")], [owner("A", True)],
                [{"name": "A"}], [], "A"):
        _, problems = norm({kyc.OWNERS_FIELD: bad}, "org")
        assert kyc.OWNERS_FIELD in problems.fields, bad


def test_issue_date_must_precede_expiry() -> None:
    problems = Problems()
    kyc.cross_check({"id_issue_date": "2029-01-01", "id_expiration_date": "2028-01-01"},
                    problems)
    assert "id_expiration_date" in problems.fields


def test_incomplete_record_needs_info_and_complete_one_is_queued() -> None:
    rec, values = kyc.submit(record(requested_tier=1), {}, {"first_name": "Carol"}, 1, NOW_MS)
    assert rec.status == KycStatus.NEEDS_INFO and rec.submitted_ms is None
    assert rec.field_status["first_name"].status is FieldStatus.PROCESSING
    rec, values = kyc.submit(rec, values, BASIC, 1, NOW_MS)
    assert rec.status == KycStatus.PROCESSING and rec.submitted_ms == NOW_MS
    assert values == BASIC


def test_an_unchanged_submission_changes_nothing() -> None:
    rec, values = kyc.submit(record(requested_tier=1), {}, BASIC, 1, NOW_MS)
    again, _ = kyc.submit(rec, values, dict(BASIC), 1, NOW_MS + 5)
    assert again is rec


def test_none_clears_a_field() -> None:
    rec, values = kyc.submit(record(requested_tier=1), {}, BASIC, 1, NOW_MS)
    rec, values = kyc.submit(rec, values, {"email_address": None}, 1, NOW_MS)
    assert "email_address" not in values and "email_address" not in rec.field_status
    assert rec.status == KycStatus.NEEDS_INFO


def accepted(tier: int = 1, risk: str = "low") -> tuple[kyc.KycCustomer, dict[str, object]]:
    rec, values = kyc.submit(record(requested_tier=tier), {}, FULL, tier, NOW_MS)
    d = Decision(outcome="accept", reason="documents match", tier=tier, risk=risk)
    kyc.check_decision(rec, values, d)
    return kyc.decide(rec, d, staff_id="s1", now_ms=NOW_MS), values


def test_accepting_grants_the_tier_and_accepts_the_fields() -> None:
    rec, _ = accepted(2, "high")
    assert (rec.status, rec.tier, rec.risk, rec.decided_by) == ("ACCEPTED", 2, "high", "s1")
    assert {s.status for s in rec.field_status.values()} == {FieldStatus.ACCEPTED}
    assert rec.review_due_ms == kyc.review_due_ms(NOW_MS, "high")


def test_changing_an_accepted_record_sends_it_back_to_review_keeping_the_tier() -> None:
    rec, values = accepted(2)
    rec, _ = kyc.submit(rec, values, {"city": "Leeds"}, 2, NOW_MS + 1)
    assert (rec.status, rec.tier) == ("PROCESSING", 2)
    assert rec.field_status["city"].status is FieldStatus.PROCESSING
    assert rec.field_status["first_name"].status is FieldStatus.ACCEPTED


def test_needs_info_marks_fields_and_resubmission_requeues() -> None:
    rec, values = kyc.submit(record(requested_tier=1), {}, BASIC, 1, NOW_MS)
    d = Decision(outcome="needs_info", reason="unclear", marks={
        "email_address": {"status": "VERIFICATION_REQUIRED", "reason": "bounced"}})
    kyc.check_decision(rec, values, d)
    rec = kyc.decide(rec, d, staff_id="s1", now_ms=NOW_MS)
    assert rec.status == KycStatus.NEEDS_INFO
    assert rec.field_status["email_address"] == kyc.FieldState(
        status=FieldStatus.VERIFICATION_REQUIRED, reason="bounced")
    assert kyc.missing_fields(rec, values, 1) == ["email_address"]
    # The same value sent again counts: the customer has confirmed it.
    rec, values = kyc.submit(rec, values, {"email_address": BASIC["email_address"]}, 1,
                             NOW_MS + 10)
    assert rec.status == KycStatus.PROCESSING and rec.submitted_ms == NOW_MS + 10


def test_rejection_closes_the_record_and_withdraws_the_tier() -> None:
    rec, values = accepted(1)
    rec, values = kyc.submit(rec, values, {"city": "Leeds"}, 1, NOW_MS)
    d = Decision(outcome="reject", reason="fraud")
    kyc.check_decision(rec, values, d)
    rec = kyc.decide(rec, d, staff_id="s1", now_ms=NOW_MS)
    assert (rec.status, rec.tier, rec.review_due_ms) == ("REJECTED", 0, None)
    with pytest.raises(PlatformError) as exc:
        kyc.submit(rec, values, {"city": "York"}, 1, NOW_MS)
    assert exc.value.code == "KYC_REJECTED" and exc.value.kind is Kind.CONFLICT


def test_decisions_are_checked() -> None:
    rec, values = kyc.submit(record(requested_tier=1), {}, BASIC, 1, NOW_MS)
    bad = [
        (Decision(outcome="accept", reason="", tier=1, risk="low"), {"reason"}),
        (Decision(outcome="accept", reason="ok", tier=2, risk="extreme"), {"tier", "risk"}),
        (Decision(outcome="accept", reason="ok", tier=3, risk="low"), {"tier"}),
        (Decision(outcome="needs_info", reason="ok"), {"fields"}),
        (Decision(outcome="needs_info", reason="ok",
                  marks={"shoe_size": {"status": "REJECTED", "reason": "x"},
                         "city": {"status": "ACCEPTED", "reason": "x"},
                         "address": {"status": "REJECTED", "reason": " "}}),
         {"fields.shoe_size", "fields.city", "fields.address"}),
        (Decision(outcome="maybe", reason="ok"), {"decision"}),
    ]
    for d, fields in bad:
        with pytest.raises(PlatformError) as exc:
            kyc.check_decision(rec, values, d)
        assert exc.value.code == "INVALID_DECISION" and set(exc.value.fields) == fields, d
    waiting, _ = kyc.submit(record(requested_tier=1), {}, {"first_name": "C"}, 1, NOW_MS)
    with pytest.raises(PlatformError) as exc:
        kyc.check_decision(waiting, {}, Decision(outcome="reject", reason="x"))
    assert exc.value.code == "KYC_NOT_IN_REVIEW"


@pytest.mark.parametrize(("risk", "years"), [("high", 1), ("medium", 2), ("low", 3)])
def test_re_review_date_follows_the_risk(risk: str, years: int) -> None:
    due = dt.datetime.fromtimestamp(kyc.review_due_ms(NOW_MS + 7, risk) / 1000, dt.UTC)
    assert due == dt.datetime(2026 + years, 6, 15, 12, 0, 0, 7000, tzinfo=dt.UTC)


def test_re_review_of_29_february_falls_on_28_february() -> None:
    leap = int(dt.datetime(2028, 2, 29, tzinfo=dt.UTC).timestamp()) * 1000
    due = kyc.review_due_ms(leap, "high")
    assert dt.datetime.fromtimestamp(due / 1000, dt.UTC).date() == dt.date(2029, 2, 28)


def test_tiers_grow_and_tier_zero_holds_nothing() -> None:
    none = kyc.limits_for(0)
    assert (none.per_tx_minor, none.balance_cap_minor, none.asset_codes) == (0, 0, ())
    levels = [kyc.limits_for(t) for t in (1, 2, 3)]
    for lower, higher in itertools.pairwise(levels):
        assert lower.per_tx_minor < higher.per_tx_minor
        assert lower.per_day_minor < higher.per_day_minor
        assert set(lower.asset_codes) <= set(higher.asset_codes)
    assert kyc.limits_for(2).asset_codes == kyc.DEMO_ASSETS
    assert kyc.tiers_for("user") == (1, 2) and kyc.tiers_for("org") == (3,)
    assert set(kyc.TIERS[1].required_fields) < set(kyc.TIERS[2].required_fields)


@pytest.mark.parametrize(("data", "declared", "kind"), [
    (b"\xff\xd8\xff\xe0rest", "image/jpeg", "jpeg"),
    (b"\x89PNG\r\n\x1a\nrest", "image/png", "png"),
    (b"%PDF-1.7 rest", "application/pdf; charset=binary", "pdf"),
])
def test_file_kinds_are_told_by_their_bytes(data: bytes, declared: str, kind: str) -> None:
    assert kyc.file_kind(data, declared) == kind


def test_file_kind_refusals() -> None:
    with pytest.raises(PlatformError) as exc:
        kyc.file_kind(b"GIF89a...", "image/gif")
    assert exc.value.code == "FILE_TYPE_UNSUPPORTED"
    with pytest.raises(PlatformError) as exc:
        kyc.file_kind(b"%PDF-1.7", "image/png")
    assert exc.value.code == "FILE_TYPE_MISMATCH"
