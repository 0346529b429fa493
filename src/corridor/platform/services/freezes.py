"""Freezing a customer's (or organisation's) holdings on chain (issue 16): a compliance
officer's decision (Perm.ACCOUNT_FREEZE) carried out by the issuer's SetHolder FREEZE,
lifted by UNFREEZE. Both go through the one outbox of ledger jobs (services/wallets.py,
adapters/outbox_jobs.py): queued in the same unit of work as the freeze record, signed by
the issuer's key in the worker, retried by the outbox's one policy; the worker reports
each job's outcome here (`record_done` / `record_failed`) and the freeze follows it
(domain/freezes.py).

The jobs: every (wallet, asset) of the owner the issuer authorised or was asked to
(its authorisations not failed) — the holdings of the platform's assets it may have.
While a freeze is active, `check_not_frozen` refuses the owner's new payments and
withdrawals (ACCOUNT_FROZEN); money already on its way is refused by the chain (FROZEN)
and returned by the transfers' existing path. Unfreezing needs an officer other than
the one who froze (four eyes)."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain import freezes as dom
from corridor.platform.domain import idempotency
from corridor.platform.domain import wallets as w
from corridor.platform.domain.errors import Err, Problems, forbidden, not_found
from corridor.platform.domain.freezes import Freeze, FreezeStatus, Phase
from corridor.platform.domain.identity import User
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.domain.wallets import (
    Authorisation,
    AuthStatus,
    JobKind,
    JobStatus,
    LedgerJob,
    OwnerType,
    Wallet,
    WalletStatus,
)
from corridor.platform.services import idempotency as replay
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

KIND_OF: dict[Phase, JobKind] = {Phase.FREEZE: JobKind.FREEZE,
                                 Phase.UNFREEZE: JobKind.UNFREEZE}
JOB_KINDS = frozenset(KIND_OF.values())


# --- the check every outgoing payment and withdrawal makes -------------------------------


def active_of(uow: UnitOfWork, owner_type: str, owner_id: str) -> Freeze | None:
    """The owner's active freeze (requested, frozen on chain, or being released)."""
    for f in uow.repo(Freeze).many(owner_type=owner_type, owner_id=owner_id,
                                   status=tuple(dom.ACTIVE), limit=1):
        return f
    return None


def check_not_frozen(uow: UnitOfWork, owner_type: str, owner_id: str) -> None:
    """Refuses money leaving a frozen owner, before anything is written."""
    if active_of(uow, owner_type, owner_id) is not None:
        raise Err.ACCOUNT_FROZEN.error()


# --- deciding ------------------------------------------------------------------------------


def _officer(who: Principal) -> None:
    if not who.staff_can(Perm.ACCOUNT_FREEZE):
        raise forbidden()


def _check_text(reason: str, reference: str | None, problems: Problems) -> tuple[str, str | None]:
    reason = " ".join(reason.split())
    if not reason or len(reason) > dom.REASON_LEN_MAX or not reason.isprintable():
        problems.add("reason", f"why, in 1-{dom.REASON_LEN_MAX} printable characters")
    if reference is not None:
        reference = reference.strip() or None
    if reference is not None and (len(reference) > dom.REFERENCE_LEN_MAX
                                  or not reference.isprintable()):
        problems.add("reference", f"at most {dom.REFERENCE_LEN_MAX} printable characters")
    return reason, reference


def check_owner(uow: UnitOfWork, owner_type: str, owner_id: str, *,
                 lock: bool = False) -> None:
    """The owner exists: a customer (not staff), or an organisation. With `lock`, its row
    is locked, so two decisions on one owner (two officers at once) queue behind each
    other and the second sees the first's freeze."""
    if owner_type == OwnerType.USER:
        user = uow.repo(User).get(owner_id[:64], for_update=lock)
        if user is None or user.kind != UserKind.CUSTOMER:
            raise not_found("customer")
    elif owner_type == OwnerType.ORG:
        if uow.repo(Organisation).get(owner_id[:64], for_update=lock) is None:
            raise not_found("organisation")
    else:
        raise not_found("owner")


def _job(deps: Deps, f: Freeze, phase: Phase, wallet: Wallet, code: str) -> LedgerJob:
    kind = KIND_OF[phase]
    now = deps.clock.now_ms()
    return LedgerJob(
        id=deps.rand.new_id(), kind=kind, wallet_id=wallet.id,
        payload={"address": wallet.address, "code": code, "freeze_id": f.id,
                 "phase": phase.value},
        status=JobStatus.QUEUED, signer=w.SIGNER_OF[kind], tx_id=None, tx_hex=None,
        op_index=None, attempts=0, error_code=None, error_message=None, created_ms=now,
        updated_ms=now)


def extend(deps: Deps, uow: UnitOfWork, wallet: Wallet, code: str) -> None:
    """A holding asked for while its owner is frozen (an authorisation granted after the
    freeze, an account opened again) is frozen too: one more job of the freeze, which is
    `requested` again until the chain has carried it out. Inside the caller's unit of
    work, after the holding's own authorisation job (the issuer builds in that order)."""
    active = active_of(uow, wallet.owner_type, wallet.owner_id)
    if active is None or active.phase is not Phase.FREEZE:
        return  # none, or being lifted: the release's own jobs cover every holding
    f = uow.repo(Freeze).get(active.id, for_update=True)
    assert f is not None
    uow.repo(LedgerJob).add(_job(deps, f, Phase.FREEZE, wallet, code))
    codes = sorted(set(f.codes) | {code})
    uow.repo(Freeze).update(dataclasses.replace(
        f, jobs_total=f.jobs_total + 1, asset_codes=",".join(codes),
        status=FreezeStatus.REQUESTED, updated_ms=deps.clock.now_ms()))


def _queue(deps: Deps, uow: UnitOfWork, f: Freeze, phase: Phase) -> tuple[int, tuple[str, ...]]:
    """Queues the phase's ledger jobs: one per (wallet, asset) the owner may hold.
    Returns how many, and the asset codes."""
    count, codes = 0, set[str]()
    for wallet in uow.repo(Wallet).many(owner_type=f.owner_type, owner_id=f.owner_id,
                                        order_by="created_ms", limit=w.WALLETS_PER_OWNER_MAX):
        if wallet.status == WalletStatus.FAILED:
            continue
        for auth in uow.repo(Authorisation).many(wallet_id=wallet.id, order_by="asset_code"):
            if auth.status == AuthStatus.FAILED:
                continue
            uow.repo(LedgerJob).add(_job(deps, f, phase, wallet, auth.asset_code))
            count += 1
            codes.add(auth.asset_code)
    return count, tuple(sorted(codes))


def freeze(deps: Deps, who: Principal, owner_type: str, owner_id: str, *, reason: str,
           reference: str | None = None, idempotency_key: str | None) -> Freeze:
    """Freezes the owner's holdings of every asset the platform issues (queued on chain)
    and stops its outgoing money now. Once at a time: an active freeze is ALREADY_FROZEN.
    A retry under the same Idempotency-Key returns the freeze as it stands."""
    _officer(who)
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    reason, reference = _check_text(reason, reference, problems)
    idempotency.raise_if_any(problems)
    asked = {"owner_type": owner_type, "owner_id": owner_id, "reason": reason,
             "reference": reference}
    with deps.uow() as uow:
        check_owner(uow, owner_type, owner_id, lock=True)
        first = replay.prior(uow, who.user_id, key, "freeze.create", asked)
        if first is not None:
            before = uow.repo(Freeze).get(first)
            assert before is not None, "a freeze is never deleted"
            return before
        f = freeze_in(deps, uow, who, owner_type, owner_id, reason=reason,
                      reference=reference)
        replay.remember(deps, uow, who.user_id, key, "freeze.create", asked, f.id)
        uow.commit()
    return f


def freeze_in(deps: Deps, uow: UnitOfWork, who: Principal, owner_type: str, owner_id: str, *,
              reason: str, reference: str | None, case_id: str | None = None) -> Freeze:
    """The freeze itself, inside the caller's unit of work (the owner's row locked by the
    caller, the text checked): recorded, its ledger jobs queued, audited. A compliance
    case's decision passes its id (`case_id`)."""
    if active_of(uow, owner_type, owner_id) is not None:
        raise Err.ALREADY_FROZEN.error()
    now = deps.clock.now_ms()
    f = Freeze(id=deps.rand.new_id(), owner_type=OwnerType(owner_type), owner_id=owner_id,
               status=FreezeStatus.REQUESTED, phase=Phase.FREEZE, reason=reason,
               reference=reference, case_id=case_id, asset_codes="", frozen_by=who.user_id,
               jobs_total=0, jobs_done=0, jobs_failed=0, tx_id=None, height=None, error_code=None,
               release_reason=None, released_by=None, release_tx_id=None,
               release_height=None, created_ms=now, frozen_ms=None,
               release_requested_ms=None, released_ms=None, updated_ms=now)
    count, codes = _queue(deps, uow, f, Phase.FREEZE)
    f = dataclasses.replace(f, jobs_total=count, asset_codes=",".join(codes))
    if count == 0:  # nothing held on chain: frozen on the platform at once
        f = dataclasses.replace(f, status=FreezeStatus.FROZEN, frozen_ms=now)
    uow.repo(Freeze).add(f)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="freeze.request",
              object_type=f"{owner_type}", object_id=owner_id, ip=who.ip,
              after={"freeze_id": f.id, "reason": reason, "reference": reference,
                     "asset_codes": list(codes), "jobs": count, "status": f.status})
    return f


def unfreeze(deps: Deps, who: Principal, owner_type: str, owner_id: str, *, reason: str,
             idempotency_key: str | None) -> Freeze:
    """Lifts the owner's freeze (UNFREEZE queued on chain; the money stays stopped until
    the chain has carried it out). Needs another officer than the one who froze; not
    while the chain has yet to answer the freeze (FREEZE_PENDING). A retry under the same
    Idempotency-Key returns the freeze as it stands."""
    _officer(who)
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    reason, _ = _check_text(reason, None, problems)
    idempotency.raise_if_any(problems)
    asked = {"owner_type": owner_type, "owner_id": owner_id, "reason": reason}
    with deps.uow() as uow:
        check_owner(uow, owner_type, owner_id, lock=True)
        first = replay.prior(uow, who.user_id, key, "freeze.release", asked)
        if first is not None:
            before = uow.repo(Freeze).get(first)
            assert before is not None, "a freeze is never deleted"
            return before
        f = unfreeze_in(deps, uow, who, owner_type, owner_id, reason=reason)
        replay.remember(deps, uow, who.user_id, key, "freeze.release", asked, f.id)
        uow.commit()
    return f


def unfreeze_in(deps: Deps, uow: UnitOfWork, who: Principal, owner_type: str, owner_id: str,
                *, reason: str) -> Freeze:
    """The release itself, inside the caller's unit of work (the owner's row locked by the
    caller, the reason checked): four eyes, the unfreeze jobs queued, audited."""
    f = _releasable(uow, owner_type, owner_id)
    if f.frozen_by == who.user_id:
        raise Err.FOUR_EYES_REQUIRED.error(
            "another compliance officer must lift a freeze you asked for")
    now = deps.clock.now_ms()
    f = dataclasses.replace(f, status=FreezeStatus.RELEASING, phase=Phase.UNFREEZE,
                            release_reason=reason, released_by=who.user_id,
                            release_requested_ms=now, error_code=None, updated_ms=now)
    count, codes = _queue(deps, uow, f, Phase.UNFREEZE)
    f = dataclasses.replace(f, jobs_total=count, jobs_done=0, jobs_failed=0)
    if count == 0:
        f = dataclasses.replace(f, status=FreezeStatus.RELEASED, released_ms=now)
    uow.repo(Freeze).update(f)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="freeze.release",
              object_type=f"{owner_type}", object_id=owner_id, ip=who.ip,
              after={"freeze_id": f.id, "reason": reason, "asset_codes": list(codes),
                     "jobs": count, "status": f.status})
    return f


def _releasable(uow: UnitOfWork, owner_type: str, owner_id: str) -> Freeze:
    """The owner's freeze an unfreeze may act on, locked: frozen, or failed (some
    holdings may be frozen), once the chain has answered all its jobs."""
    found = uow.repo(Freeze).many(owner_type=owner_type, owner_id=owner_id,
                                  status=(FreezeStatus.REQUESTED, FreezeStatus.FROZEN,
                                          FreezeStatus.FAILED, FreezeStatus.RELEASING),
                                  order_by="created_ms", descending=True,
                                  limit=1)
    if not found:
        raise Err.NOT_FROZEN.error()
    f = uow.repo(Freeze).get(found[0].id, for_update=True)
    assert f is not None
    if f.status == FreezeStatus.RELEASING:
        raise Err.NOT_FROZEN.error("the freeze is already being lifted")
    if f.status == FreezeStatus.REQUESTED or not f.settled:
        raise Err.FREEZE_PENDING.error()
    return f


# --- reading -------------------------------------------------------------------------------


def history(deps: Deps, who: Principal, owner_type: str, owner_id: str, *, limit: int = 50,
            offset: int = 0) -> tuple[list[Freeze], int]:
    """The owner's freezes, newest first (staff who read customers)."""
    if not (who.staff_can(Perm.CUSTOMERS_READ) or who.staff_can(Perm.ACCOUNT_FREEZE)):
        raise forbidden()
    limit, offset = page_bounds(limit, offset, dom.HISTORY_PAGE_MAX)
    with deps.reader() as uow:
        check_owner(uow, owner_type, owner_id)
        repo = uow.repo(Freeze)
        return (repo.many(owner_type=owner_type, owner_id=owner_id, order_by="created_ms",
                          descending=True,
                          limit=limit, offset=offset),
                repo.count(owner_type=owner_type, owner_id=owner_id))


def state_of(deps: Deps, owner_type: str, owner_id: str) -> Freeze | None:
    """The owner's active freeze, for its own pages and API (no access check: the caller
    reads its own or an organisation it was checked for)."""
    with deps.reader() as uow:
        return active_of(uow, owner_type, owner_id)


# --- outcomes reported by the outbox worker ------------------------------------------------


def _of_job(uow: UnitOfWork, job: LedgerJob) -> Freeze | None:
    """The freeze whose current phase `job` belongs to, locked (None: an older phase)."""
    f = uow.repo(Freeze).get(str(job.payload["freeze_id"]), for_update=True)
    assert f is not None, job.payload
    return f if f.phase == job.payload["phase"] else None


def record_done(deps: Deps, uow: UnitOfWork, job: LedgerJob, height: int | None) -> None:
    """The chain carried out a freeze or unfreeze job (in block `height`, when known)."""
    assert job.kind in JOB_KINDS, job.kind
    now = deps.clock.now_ms()
    uow.repo(LedgerJob).update(dataclasses.replace(
        job, status=JobStatus.DONE, error_code=None, error_message=None, updated_ms=now))
    f = _of_job(uow, job)
    if f is None:
        return
    after = dom.job_done(f, tx_id=job.tx_id, height=height, now_ms=now)
    uow.repo(Freeze).update(after)
    if after.status == FreezeStatus.RELEASED and f.status != FreezeStatus.RELEASED:
        # a case's release waiting for this unfreeze goes on now; imported here, as the
        # case's decisions call this module (services/case_actions.py)
        from corridor.platform.services import case_actions
        case_actions.unfrozen(deps, uow, after)
    if after.status != f.status:
        uow.audit(actor_id=None, actor_kind="system", action=f"freeze.{after.status}",
                  object_type=f.owner_type.value, object_id=f.owner_id,
                  before={"status": f.status},
                  after={"freeze_id": f.id, "status": after.status, "tx_id": job.tx_id,
                         "height": height})


def record_failed(deps: Deps, uow: UnitOfWork, job: LedgerJob, code: str,
                  message: str) -> None:
    """The chain refused a freeze or unfreeze job for good."""
    assert job.kind in JOB_KINDS, job.kind
    now = deps.clock.now_ms()
    uow.repo(LedgerJob).update(w.job_failed(job, code, message, now))
    f = _of_job(uow, job)
    if f is None:
        return
    after = dom.job_failed(f, code, now)
    uow.repo(Freeze).update(after)
    uow.audit(actor_id=None, actor_kind="system", action=f"ledger.{job.kind}.failed",
              object_type=f.owner_type.value, object_id=f.owner_id,
              before={"status": f.status},
              after={"freeze_id": f.id, "status": after.status, "job_id": job.id,
                     "asset_code": job.payload["code"], "code": code,
                     "message": message[:200]})


def acting_officer(deps: Deps, email: str) -> Principal:
    """The staff member the CLI acts as (`--by EMAIL`): an active staff account, whose
    role the use cases then check like any request's."""
    from corridor.platform.domain.identity import UserStatus, normalise_email

    with deps.reader() as uow:
        user = uow.repo(User).one(email=normalise_email(email))
    if user is None or user.kind != UserKind.STAFF or user.status != UserStatus.ACTIVE:
        raise not_found("active staff account with this e-mail")
    return Principal(user_id=user.id, kind=UserKind.STAFF, staff_role=user.staff_role,
                     session_id="cli")


def owner_id_of(deps: Deps, owner_type: str, text: str) -> str:
    """A customer named by id or e-mail (the CLI's argument); an organisation by id."""
    from corridor.platform.domain.identity import normalise_email

    if owner_type != OwnerType.USER or "@" not in text:
        return text
    with deps.reader() as uow:
        user = uow.repo(User).one(email=normalise_email(text))
    if user is None:
        raise not_found("customer")
    return user.id
