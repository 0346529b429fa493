"""KYC use cases (requirement A5): customers and organisations submit SEP-12 fields and
documents; compliance officers work the review queue and decide.

Field values are personal data: they are sealed by the vault under a context bound to
the record, and the audit trail keeps only the record's state and the names of changed
fields, never the values. Staff reads of a record or a document are audited too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from corridor.platform.domain import idempotency, kyc
from corridor.platform.domain import notifications as note
from corridor.platform.domain.errors import Err, Problems, forbidden, not_found
from corridor.platform.domain.kyc import (
    Decision,
    KycCustomer,
    KycFile,
    KycStatus,
    Outcome,
    SubjectType,
)
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.domain.screening.entries import EntityKind
from corridor.platform.services import idempotency as replay
from corridor.platform.services import monitoring, reviews, risk, wallets
from corridor.platform.services import notifications as inbox
from corridor.platform.services.access import require_org, require_staff
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KycView:
    """A subject's KYC state as a use case returns it: the record (None before the first
    submission), its opened field values and, for staff, the subject's documents."""

    subject_type: str
    subject_id: str
    record: KycCustomer | None
    values: dict[str, object]
    files: tuple[KycFile, ...] = ()

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        return kyc.field_view(self.record, self.values, self.subject_type)


# --- sealing --------------------------------------------------------------------------


_record_context = kyc.record_context


def _file_context(owner_type: str, owner_id: str, file_id: str) -> str:
    # Bound to the owner: a sealed blob moved to another owner's record will not open.
    return f"kyc-file:{owner_type}:{owner_id}:{file_id}"


def _seal(deps: Deps, record_id: str, values: dict[str, object]) -> str:
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return deps.sealer.seal(text.encode(), _record_context(record_id))


def _open(deps: Deps, rec: KycCustomer) -> dict[str, object]:
    values: dict[str, object] = json.loads(deps.sealer.open(rec.data_enc,
                                                            _record_context(rec.id)))
    return values


# --- subjects -------------------------------------------------------------------------


def _subject(uow: UnitOfWork, who: Principal, org_id: str | None) -> tuple[str, str]:
    """Whose KYC the caller acts on: their own, or an organisation's (needs ORG_KYC)."""
    if org_id is not None:
        require_org(uow, who, org_id, Perm.ORG_KYC)
        return SubjectType.ORG, org_id
    if who.kind is not UserKind.CUSTOMER:
        raise forbidden("only customers have a KYC record")
    return SubjectType.USER, who.user_id


def _find(uow: UnitOfWork, subject_type: str, subject_id: str) -> KycCustomer | None:
    found = uow.repo(KycCustomer).one(subject_type=subject_type, subject_id=subject_id)
    if found is None:
        return None
    return uow.repo(KycCustomer).get(found.id, for_update=True)


def _owned_files(uow: UnitOfWork, owner_type: str, owner_id: str) -> list[KycFile]:
    return uow.repo(KycFile).many(owner_type=owner_type, owner_id=owner_id,
                                  order_by="created_ms", limit=kyc.FILES_PER_OWNER_MAX)


def _view(deps: Deps, subject: tuple[str, str], rec: KycCustomer | None,
          files: tuple[KycFile, ...] = ()) -> KycView:
    values = _open(deps, rec) if rec is not None else {}
    return KycView(subject_type=subject[0], subject_id=subject[1], record=rec, values=values,
                   files=files)


# --- customer side --------------------------------------------------------------------


def get_customer(deps: Deps, who: Principal, org_id: str | None = None) -> KycView:
    """The caller's own KYC state (or an organisation's they handle KYC for)."""
    with deps.uow() as uow:
        subject = _subject(uow, who, org_id)
        rec = uow.repo(KycCustomer).one(subject_type=subject[0], subject_id=subject[1])
        return _view(deps, subject, rec)


def put_customer(
    deps: Deps, who: Principal, changes: dict[str, object], tier: int | None = None,
    org_id: str | None = None,
) -> KycView:
    """Merges `changes` (None clears a field) into the subject's record after checking
    every one; a complete record enters the review queue. Nothing is saved on refusal."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        subject = _subject(uow, who, org_id)
        old = _find(uow, *subject)
        rec = old or kyc.new_record(id=deps.rand.new_id(), subject_type=subject[0],
                                    subject_id=subject[1], data_enc="", now_ms=now)
        values = _open(deps, old) if old is not None else {}
        norm = _checked(uow, rec, values, changes, tier, now)
        changed = sorted(kyc.changed_fields(rec, values, norm))
        new, merged = kyc.submit(rec, values, norm, rec.requested_tier if tier is None else tier,
                                 now)
        if new is rec:
            return _view(deps, subject, old)
        new = dataclasses.replace(new, data_enc=_seal(deps, new.id, merged))
        if old is None:
            uow.repo(KycCustomer).add(new)
        else:
            uow.repo(KycCustomer).update(new)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="kyc.submit",
                  object_type="kyc_customer", object_id=new.id,
                  before=kyc.summary(old) if old else None,
                  after={**kyc.summary(new), "changed_fields": changed}, ip=who.ip)
        if new.status == kyc.KycStatus.PROCESSING and (
                old is None or old.status != kyc.KycStatus.PROCESSING
                or NAME_FIELDS.intersection(changed)):
            _screen(deps, uow, subject, new, merged)
        uow.commit()
        return _view(deps, subject, new)


NAME_FIELDS = frozenset({"first_name", "last_name", "organization.name"})


def _screen(deps: Deps, uow: UnitOfWork, subject: tuple[str, str], rec: KycCustomer,
            values: dict[str, object]) -> None:
    """The submitted name against the sanctions lists (issue 16): a hit is an alert on the
    customer for compliance; the KYC decision stays the reviewer's."""
    org = subject[0] == SubjectType.ORG
    name = name_of(subject[0], values)
    if name.strip():
        monitoring.screen_customer(
            deps, uow, subject=subject, name=name, source=("kyc", rec.id),
            kind=EntityKind.ORG if org else EntityKind.PERSON)


def name_of(subject_type: str, values: dict[str, object]) -> str:
    """The name a KYC record gives its subject (first and last, or the organisation's)."""
    if subject_type == SubjectType.ORG:
        return str(values.get("organization.name") or "")
    return " ".join(str(values.get(k) or "") for k in ("first_name", "last_name"))


def screening_names(deps: Deps, uow: UnitOfWork, subject_type: str,
                    registered: dict[str, str]) -> dict[str, str]:
    """Subject id -> the name to screen them under: their KYC record's, else the name they
    registered with (`registered`); subjects with neither are left out."""
    names = {sid: " ".join(n.split()) for sid, n in registered.items()}
    if registered:
        for rec in uow.repo(KycCustomer).many(subject_type=subject_type,
                                              subject_id=tuple(registered)):
            given = " ".join(name_of(subject_type, _open(deps, rec)).split())
            if given:
                names[rec.subject_id] = given
    return {sid: n for sid, n in names.items() if n}


def _checked(uow: UnitOfWork, rec: KycCustomer, values: dict[str, object],
             changes: dict[str, object], tier: int | None, now_ms: int) -> dict[str, object]:
    """The changes in canonical form, or INVALID_FIELDS naming every problem."""
    kyc.check_open(rec)  # refuse a closed record before judging the input
    problems = Problems()
    owned = frozenset(f.id for f in _owned_files(uow, rec.subject_type, rec.subject_id))
    norm = kyc.normalise(rec.subject_type, changes, today=kyc.today_of(now_ms),
                         owned_files=owned, problems=problems)
    if tier is not None:
        kyc.check_requested_tier(rec.subject_type, tier, problems)
    kyc.cross_check(kyc.merge(values, norm), problems)
    problems.raise_if_any()
    return norm


def upload_file(deps: Deps, who: Principal, data: bytes, content_type: str,
                org_id: str | None = None) -> KycFile:
    """Stores a document (JPEG, PNG or PDF, checked by its bytes) encrypted for the
    subject; fields then refer to it by the returned record's id."""
    now = deps.clock.now_ms()
    size_max: int = deps.settings.upload_bytes_max
    with deps.uow() as uow:
        owner_type, owner_id = _subject(uow, who, org_id)
        if not data:
            raise Err.FILE_EMPTY.error("the file is empty",
                                       {"file": "empty"})
        if len(data) > size_max:
            raise Err.FILE_TOO_LARGE.error(
                f"files may be at most {size_max} bytes")
        kind = kyc.file_kind(data, content_type)
        if uow.repo(KycFile).count(owner_type=owner_type, owner_id=owner_id) \
                >= kyc.FILES_PER_OWNER_MAX:
            raise Err.KYC_FILES_LIMIT.error(
                f"at most {kyc.FILES_PER_OWNER_MAX} documents per customer")
        file_id = deps.rand.new_id()
        ref = deps.files.put(data, context=_file_context(owner_type, owner_id, file_id))
        rec = KycFile(id=file_id, owner_type=SubjectType(owner_type), owner_id=owner_id,
                      kind=kind,
                      content_type=kyc.FILE_KINDS[kind][1], size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), ref=ref,
                      uploaded_by=who.user_id, created_ms=now)
        uow.repo(KycFile).add(rec)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="kyc.file.upload",
                  object_type="kyc_file", object_id=file_id,
                  after={"owner_type": owner_type, "owner_id": owner_id, "kind": kind,
                         "size": len(data), "sha256": rec.sha256}, ip=who.ip)
        uow.commit()
        return rec


# --- staff side -----------------------------------------------------------------------


def queue(deps: Deps, who: Principal, limit: int, offset: int) -> tuple[list[KycCustomer], int]:
    """Records waiting for review, oldest submission first, and how many there are."""
    require_staff(who, Perm.KYC_READ)
    limit, offset = page_bounds(limit, offset, kyc.QUEUE_PAGE_MAX)
    with deps.uow() as uow:
        repo = uow.repo(KycCustomer)
        items = repo.many(status=KycStatus.PROCESSING, order_by="submitted_ms", limit=limit,
                          offset=offset)
        return items, repo.count(status=KycStatus.PROCESSING)


def due(deps: Deps, who: Principal, limit: int, offset: int) -> list[KycCustomer]:
    """Records whose re-review date has come, most overdue first (services/reviews.py)."""
    require_staff(who, Perm.KYC_READ)
    return reviews.due(deps, who, limit=limit, offset=offset)


def _staff_record(uow: UnitOfWork, record_id: str, *, for_update: bool = False) -> KycCustomer:
    rec = uow.repo(KycCustomer).get(record_id[:64], for_update=for_update)
    if rec is None:
        raise not_found("KYC record")
    return rec


def staff_view(deps: Deps, who: Principal, record_id: str) -> KycView:
    """A record with its values and the subject's documents, for KYC_READ staff."""
    require_staff(who, Perm.KYC_READ)
    with deps.uow() as uow:
        rec = _staff_record(uow, record_id)
        files = tuple(_owned_files(uow, rec.subject_type, rec.subject_id))
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="kyc.view",
                  object_type="kyc_customer", object_id=rec.id, ip=who.ip)
        uow.commit()
        return _view(deps, (rec.subject_type, rec.subject_id), rec, files)


def staff_file(deps: Deps, who: Principal, record_id: str, file_id: str) -> tuple[KycFile, bytes]:
    """One of the record subject's documents, decrypted, for KYC_READ staff."""
    require_staff(who, Perm.KYC_READ)
    with deps.uow() as uow:
        rec = _staff_record(uow, record_id)
        f = uow.repo(KycFile).get(file_id[:64])
        if f is None or (f.owner_type, f.owner_id) != (rec.subject_type, rec.subject_id):
            raise not_found("file")
        data = deps.files.get(f.ref, context=_file_context(f.owner_type, f.owner_id, f.id))
        assert hashlib.sha256(data).hexdigest() == f.sha256, f"file {f.id} does not match"
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="kyc.file.download",
                  object_type="kyc_file", object_id=f.id, after={"record_id": rec.id},
                  ip=who.ip)
        uow.commit()
        return f, data


def decide(deps: Deps, who: Principal, record_id: str, decision: Decision,
           idempotency_key: str | None) -> KycView:
    """Accepts (with a tier and risk rating), rejects, or asks for more. Acceptance asks
    custody, in the same transaction, to authorise the subject's wallets for the tier's
    assets, so a customer is never accepted without it (or authorised without acceptance).
    A retry under the same Idempotency-Key returns the record as it stands."""
    require_staff(who, Perm.KYC_REVIEW)
    key = idempotency.check_key(idempotency_key)
    asked = {"record_id": record_id, **dataclasses.asdict(decision)}
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        rec = _staff_record(uow, record_id, for_update=True)
        if replay.prior(uow, who.user_id, key, "kyc.decide", asked) is not None:
            return _view(deps, (rec.subject_type, rec.subject_id), rec)
        values = _open(deps, rec)
        kyc.check_decision(rec, values, decision)
        new = kyc.decide(rec, decision, staff_id=who.user_id, now_ms=now)
        if decision.outcome == Outcome.ACCEPT:
            new = risk.on_accept(deps, uow, new)  # the rating may shorten the interval
        uow.repo(KycCustomer).update(new)
        if decision.outcome == Outcome.ACCEPT:
            # An organisation's first wallet opens with its accepted KYB (orgs.create_org);
            # a customer's exists since sign-up. Idempotent.
            wallets.ensure_wallet(deps, uow, owner_type=new.subject_type,
                                  owner_id=new.subject_id)
            wallets.request_authorisation(
                deps, uow, owner_type=new.subject_type, owner_id=new.subject_id,
                asset_codes=kyc.limits_for(new.tier).asset_codes, actor_id=who.user_id,
            )
        if new.subject_type == kyc.SubjectType.USER:
            inbox.record(deps, uow, user_id=new.subject_id, topic=note.Topic.KYC_DECIDED,
                         subject_type=note.SubjectType.KYC, subject_id=rec.id,
                         event=f"{rec.id}:{now}",
                         params={"outcome": decision.outcome, "tier": new.tier})
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="kyc.decide",
                  object_type="kyc_customer", object_id=rec.id, before=kyc.summary(rec),
                  after={**kyc.summary(new), "decision": decision.outcome,
                         "reason": new.decision_reason},
                  ip=who.ip)
        replay.remember(deps, uow, who.user_id, key, "kyc.decide", asked, rec.id)
        uow.commit()
        return _view(deps, (rec.subject_type, rec.subject_id), new)


# --- for other areas ------------------------------------------------------------------


def tier_of(uow: UnitOfWork, owner_type: str, owner_id: str) -> int:
    """The granted tier of a user or organisation; 0 if none was ever accepted or it was
    rejected. A customer under re-review keeps their tier until the decision."""
    rec = uow.repo(KycCustomer).one(subject_type=owner_type, subject_id=owner_id)
    return rec.tier if rec is not None else 0


VERIFIED_NAME_LEN_MAX = 200


def verified_name(deps: Deps, uow: UnitOfWork, owner_type: str, owner_id: str) -> str | None:
    """The name an accepted verification established (a person's first and last name, an
    organisation's registered name): what counterparties are shown, since a display name
    is chosen freely. None if the owner holds no granted tier."""
    return verified_identity(deps, uow, owner_type, owner_id)[0]


def verified_identity(deps: Deps, uow: UnitOfWork, owner_type: str, owner_id: str
                      ) -> tuple[str | None, str | None]:
    """The verified name (see `verified_name`) and the country of the verified address
    (a person's, an organisation's registered one; ISO 3166 alpha-2), each None if not
    known: a payment's originator or beneficiary for the travel rule. One record opened."""
    rec = uow.repo(KycCustomer).one(subject_type=owner_type, subject_id=owner_id)
    if rec is None or rec.tier < 1:
        return None, None
    values = _open(deps, rec)
    if owner_type == SubjectType.ORG:
        name = str(values.get("organization.name") or "")
        country = str(values.get("organization.address_country_code") or "")
    else:
        name = " ".join(str(values.get(k) or "") for k in ("first_name", "last_name"))
        country = str(values.get("address_country_code") or "")
    name = " ".join(name.split())[:VERIFIED_NAME_LEN_MAX]
    country = country.strip().upper()
    return name or None, country if len(country) == 2 and country.isalpha() else None


def risk_of(uow: UnitOfWork, owner_type: str, owner_id: str) -> str | None:
    """The risk rating of the last acceptance (kyc.Risk), or None if never accepted."""
    rec = uow.repo(KycCustomer).one(subject_type=owner_type, subject_id=owner_id)
    return rec.risk if rec is not None else None


def identity_values(deps: Deps, uow: UnitOfWork, subject_type: str,
                    subject_id: str) -> tuple[KycCustomer, dict[str, object]] | None:
    """A subject's KYC record and its field values, opened (for a suspicious-transaction
    report's subject, services/reports.py); None without a record. The caller checks
    the reader's permission."""
    rec = uow.repo(KycCustomer).one(subject_type=subject_type, subject_id=subject_id)
    if rec is None or not rec.data_enc:
        return None
    return rec, _open(deps, rec)
