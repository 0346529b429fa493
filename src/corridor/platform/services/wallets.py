"""Custodial and registered wallets (requirement L2).

Chain work is queued, never done inside a request: each use case adds `LedgerJob`s in the
same unit of work as the wallet or authorisation it concerns (a transactional outbox), and
the outbox worker (adapters/outbox_worker.py; its jobs lane, adapters/outbox_jobs.py)
carries them to the chain and reports back through `record_done` / `record_failed`. A
custodial wallet's seed is sealed by the vault bound to its wallet id; it is never logged,
returned or stored in clear.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import coincurve

from corridor.ledger import keys
from corridor.ledger.assets import is_valid_asset_code
from corridor.ledger.errors import DecodeError
from corridor.ledger.keys import KeyPair
from corridor.platform.domain import idempotency
from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.domain import wallets as w
from corridor.platform.domain.errors import Err, Kind, PlatformError, Problems
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.text import check_display_name
from corridor.platform.domain.wallets import (
    Authorisation,
    AuthStatus,
    JobKind,
    JobStatus,
    KeyChallenge,
    LedgerJob,
    OwnerType,
    Wallet,
    WalletStatus,
)
from corridor.platform.services import freezes, kyc
from corridor.platform.services import idempotency as replay
from corridor.platform.services.access import require_org
from corridor.platform.services.ledger_port import ChainAccount, KeyGen, LedgerNode
from corridor.platform.services.ports import Deps, UnitOfWork

SIGNATURE_LEN = 64  # BIP-340
SEED_TRIES_MAX = 4  # a random 32-byte string is a valid secret with probability ~1 - 2^-128
DEFAULT_LABEL = "main"


def _keygen(deps: Deps) -> KeyGen:
    return deps.keygen


def ledger_node(deps: Deps) -> LedgerNode | None:
    """The node client for reads, if the composition root wired one."""
    return deps.ledger


def _check_label(label: str) -> str:
    problems = Problems()
    label = check_display_name(label, problems, "label", w.WALLET_LABEL_LEN_MAX)
    problems.raise_if_any(Err.INVALID_LABEL)
    return label


def _check_room(uow: UnitOfWork, owner_type: str, owner_id: str) -> None:
    if uow.repo(Wallet).count(owner_type=owner_type, owner_id=owner_id) >= w.WALLETS_PER_OWNER_MAX:
        raise Err.TOO_MANY_WALLETS.error(f"at most {w.WALLETS_PER_OWNER_MAX} wallets")


def _queue_job(deps: Deps, uow: UnitOfWork, kind: JobKind, wallet_id: str,
               payload: dict[str, Any]) -> LedgerJob:
    now = deps.clock.now_ms()
    job = LedgerJob(
        id=deps.rand.new_id(), kind=kind, wallet_id=wallet_id, payload=payload,
        status=JobStatus.QUEUED, signer=w.SIGNER_OF[kind], tx_id=None, tx_hex=None,
        op_index=None, attempts=0, error_code=None, error_message=None, created_ms=now,
        updated_ms=now,
    )
    uow.repo(LedgerJob).add(job)
    return job


def _check_may_open(deps: Deps, uow: UnitOfWork, owner_type: str, owner_id: str) -> None:
    """Every new wallet opens a chain account: an organisation's needs its accepted
    business verification (KYB) and stays under `settings.wallets_per_org_max`. (A
    customer's one wallet is opened at sign-up; customers cannot add more.)"""
    _check_room(uow, owner_type, owner_id)
    if owner_type != OwnerType.ORG:
        return
    if kyc.tier_of(uow, OwnerType.ORG, owner_id) not in kyc_domain.tiers_for(OwnerType.ORG):
        raise Err.KYB_REQUIRED.error("the organisation's business verification (KYB) must "
                                     "be accepted before it can open wallets")
    cap: int = deps.settings.wallets_per_org_max
    if uow.repo(Wallet).count(owner_type=owner_type, owner_id=owner_id) >= cap:
        raise Err.TOO_MANY_WALLETS.error(f"at most {cap} wallets per organisation")


def _add_wallet(deps: Deps, uow: UnitOfWork, *, owner_type: str, owner_id: str,
                public_key: bytes, key_sealed: str | None, wallet_id: str, label: str,
                actor_id: str | None, actor_kind: str) -> Wallet:
    """The one place a wallet (and so a chain account) is made."""
    _check_may_open(deps, uow, owner_type, owner_id)
    now = deps.clock.now_ms()
    address = keys.encode_address(keys.address_of(public_key))
    if uow.repo(Wallet).one(address=address) is not None:
        raise Err.WALLET_EXISTS.error()
    wallet = Wallet(
        id=wallet_id, owner_type=OwnerType(owner_type), owner_id=owner_id, address=address,
        public_key=keys.encode_public_key(public_key), custodial=key_sealed is not None,
        key_sealed=key_sealed, label=label, status=WalletStatus.OPENING, created_ms=now,
        updated_ms=now, proven=True,  # custodial: made here; registered: a signed challenge
    )
    uow.repo(Wallet).add(wallet)
    _queue_job(deps, uow, JobKind.OPEN_ACCOUNT, wallet.id,
               {"public_key": wallet.public_key})
    uow.audit(actor_id=actor_id, actor_kind=actor_kind, action="wallet.create",
              object_type="wallet", object_id=wallet.id,
              after={"owner_type": owner_type, "owner_id": owner_id, "address": address,
                     "custodial": wallet.custodial, "label": label})
    return wallet


def _new_custodial(deps: Deps, uow: UnitOfWork, *, owner_type: str, owner_id: str, label: str,
                   actor_id: str | None, actor_kind: str) -> Wallet:
    assert owner_type in tuple(OwnerType), owner_type
    _check_may_open(deps, uow, owner_type, owner_id)  # before a key is made
    gen = _keygen(deps)
    for _ in range(SEED_TRIES_MAX):
        try:
            kp = KeyPair.from_seed(gen.new_seed())
            break
        except DecodeError:
            continue
    else:
        raise AssertionError("the key generator gave no valid seed")
    wallet_id = deps.rand.new_id()
    sealed = deps.sealer.seal(kp.seed, context=w.wallet_context(wallet_id))
    return _add_wallet(deps, uow, owner_type=owner_type, owner_id=owner_id,
                       public_key=kp.public_key, key_sealed=sealed, wallet_id=wallet_id,
                       label=label, actor_id=actor_id, actor_kind=actor_kind)


def ensure_wallet(deps: Deps, uow: UnitOfWork, *, owner_type: str, owner_id: str) -> str:
    """The owner's custodial wallet id, creating it (and queueing its on-chain opening)
    inside the caller's unit of work if it has none."""
    for wallet in uow.repo(Wallet).many(owner_type=owner_type, owner_id=owner_id,
                                        custodial=True, order_by="created_ms"):
        if wallet.status != WalletStatus.FAILED:
            return wallet.id
    wallet = _new_custodial(deps, uow, owner_type=owner_type, owner_id=owner_id,
                            label=DEFAULT_LABEL, actor_id=None, actor_kind="system")
    return wallet.id


def request_authorisation(
    deps: Deps,
    uow: UnitOfWork,
    *,
    owner_type: str,  # "user" | "org"
    owner_id: str,
    asset_codes: tuple[str, ...],
    actor_id: str,
) -> None:
    """Queues, inside the caller's unit of work, the issuer's on-chain authorisation of
    every wallet of the owner for each asset code. Idempotent: a wallet and code already
    requested or authorised is not queued again; a failed one is asked for anew."""
    if len(asset_codes) > w.ASSET_CODES_PER_REQUEST_MAX:
        raise Err.TOO_MANY_ASSETS.error(f"at most {w.ASSET_CODES_PER_REQUEST_MAX} asset codes")
    bad = [c for c in asset_codes if not is_valid_asset_code(c)]
    if bad:
        raise Err.INVALID_ASSET_CODE.error("asset codes are 1-12 characters A-Z or 0-9",
                                           {"asset_codes": ", ".join(sorted(set(bad)))[:200]})
    now = deps.clock.now_ms()
    auths = uow.repo(Authorisation)
    for wallet in uow.repo(Wallet).many(owner_type=owner_type, owner_id=owner_id,
                                        order_by="created_ms"):
        if wallet.status == WalletStatus.FAILED:
            continue
        for code in dict.fromkeys(asset_codes):  # de-duplicated, order kept
            existing = auths.one(wallet_id=wallet.id, asset_code=code)
            if existing is not None and existing.status != AuthStatus.FAILED:
                continue
            job = _queue_job(deps, uow, JobKind.AUTHORISE, wallet.id,
                             {"address": wallet.address, "code": code})
            if existing is None:
                auths.add(Authorisation(
                    id=deps.rand.new_id(), wallet_id=wallet.id, asset_code=code,
                    status=AuthStatus.REQUESTED, job_id=job.id, created_ms=now,
                    updated_ms=now))
            else:
                auths.update(dataclasses.replace(existing, status=AuthStatus.REQUESTED,
                                                 job_id=job.id, updated_ms=now))
            uow.audit(actor_id=actor_id, actor_kind="system" if not actor_id else "user",
                      action="wallet.authorisation.request", object_type="wallet",
                      object_id=wallet.id, after={"asset_code": code, "job_id": job.id})
            freezes.extend(deps, uow, wallet, code)  # a frozen owner's new holding too


# --- Organisation wallets ------------------------------------------------------------------


def create_org_wallet(deps: Deps, who: Principal, org_id: str, label: str, *,
                      idempotency_key: str | None) -> Wallet:
    """A new custodial wallet for an organisation (Perm.ORG_WALLETS). A retry under the
    same Idempotency-Key returns the first wallet (as it stands now) and opens no other."""
    key = idempotency.check_key(idempotency_key)
    label = _check_label(label)
    asked = {"org_id": org_id, "label": label}
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_WALLETS)
        first = replay.prior(uow, who.user_id, key, "wallet.create", asked)
        if first is not None:
            before = uow.repo(Wallet).get(first)
            assert before is not None, "a remembered wallet is never deleted"
            return before
        wallet = _new_custodial(deps, uow, owner_type=OwnerType.ORG, owner_id=org_id,
                                label=label, actor_id=who.user_id, actor_kind=who.kind.value)
        replay.remember(deps, uow, who.user_id, key, "wallet.create", asked, wallet.id)
        uow.commit()
    return wallet


def _parse_key(public_key_text: str, problems: Problems) -> bytes:
    public_key = b""
    try:
        public_key = keys.decode_public_key(public_key_text.strip())
    except DecodeError as exc:
        problems.add("public_key", exc.message)
    if public_key and not _on_curve(public_key):
        problems.add("public_key", "not a valid key: no point on the curve has this x coordinate")
    return public_key


def key_challenge(deps: Deps, who: Principal, org_id: str, public_key_text: str, *,
                  idempotency_key: str | None) -> KeyChallenge:
    """A challenge the organisation signs with the key it wants to register, to prove it
    holds the key (issue 14/3a: any key is visible on chain, so a bare claim proves
    nothing). The message names the organisation and the key; it expires and serves once.
    A retry under the same Idempotency-Key returns the first challenge."""
    key = idempotency.check_key(idempotency_key)
    problems = Problems()
    public_key = _parse_key(public_key_text, problems)
    asked = {"org_id": org_id, "public_key": public_key_text.strip()}
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_WALLETS)  # access first: learn nothing
        problems.raise_if_any()
        first = replay.prior(uow, who.user_id, key, "wallet.key_challenge", asked)
        if first is not None:
            before = uow.repo(KeyChallenge).get(first)
            assert before is not None, "a remembered challenge is never deleted"
            return before
        now = deps.clock.now_ms()
        open_ = uow.repo(KeyChallenge).many(org_id=org_id, used_ms=None,
                                            above={"expires_ms": now},
                                            limit=w.KEY_CHALLENGES_OPEN_MAX)
        if len(open_) >= w.KEY_CHALLENGES_OPEN_MAX:
            raise Err.TOO_MANY_CHALLENGES.error(f"at most {w.KEY_CHALLENGES_OPEN_MAX} open "
                                                "key challenges; use or let one expire first")
        text = keys.encode_public_key(public_key)
        expires_ms = now + w.KEY_CHALLENGE_TTL_MS
        challenge = KeyChallenge(
            id=deps.rand.new_id(), org_id=org_id, public_key=text,
            message=w.key_challenge_message(org_id=org_id, public_key=text,
                                            nonce=deps.rand.token(), expires_ms=expires_ms),
            created_by=who.user_id, expires_ms=expires_ms, used_ms=None, created_ms=now)
        uow.repo(KeyChallenge).add(challenge)
        replay.remember(deps, uow, who.user_id, key, "wallet.key_challenge", asked,
                        challenge.id)
        uow.commit()
    return challenge


def challenge_digest(challenge: KeyChallenge) -> bytes:
    """What the key signs (BIP-340 signs a 32-byte digest): sha256 of the message."""
    return hashlib.sha256(challenge.message.encode()).digest()


def register_external_key(deps: Deps, who: Principal, org_id: str, public_key_text: str,
                          label: str, *, challenge_id: str, signature_hex: str,
                          idempotency_key: str | None) -> Wallet:
    """Registers a key an institution holds itself (it signs client-side); the platform
    opens its account on chain but never sees the seed (Perm.ORG_WALLETS). The key must
    sign the organisation's open challenge for it (`key_challenge`): the proof is checked
    and the challenge used up in the same transaction as the wallet is made. A retry
    under the same Idempotency-Key returns the wallet (its challenge is used by then)."""
    key = idempotency.check_key(idempotency_key)
    asked = {"org_id": org_id, "public_key": public_key_text.strip(), "label": label,
             "challenge_id": challenge_id, "signature": signature_hex.strip()}
    problems = Problems()
    try:
        label = _check_label(label)
    except PlatformError as exc:
        for field, message in exc.fields.items():
            problems.add(field, message)
    public_key = _parse_key(public_key_text, problems)
    try:
        signature = bytes.fromhex(signature_hex.strip())
    except ValueError:
        signature = b""
    if len(signature) != SIGNATURE_LEN:
        problems.add("signature", f"the key's BIP-340 signature: {2 * SIGNATURE_LEN} hex digits")
    with deps.uow() as uow:
        require_org(uow, who, org_id, Perm.ORG_WALLETS)  # access first: learn nothing
        problems.raise_if_any()
        first = replay.prior(uow, who.user_id, key, "wallet.register_external", asked)
        if first is not None:
            before = uow.repo(Wallet).get(first)
            assert before is not None, "a remembered wallet is never deleted"
            return before
        now = deps.clock.now_ms()
        challenge = _usable_challenge(uow, org_id, challenge_id, public_key, now)
        if not keys.verify(public_key, challenge_digest(challenge), signature):
            message = "not a signature of the challenge by this key"
            raise Err.KEY_NOT_PROVEN.error(message, {"signature": message})
        uow.repo(KeyChallenge).update(dataclasses.replace(challenge, used_ms=now))
        wallet = _add_wallet(deps, uow, owner_type=OwnerType.ORG, owner_id=org_id,
                             public_key=public_key, key_sealed=None,
                             wallet_id=deps.rand.new_id(), label=label,
                             actor_id=who.user_id, actor_kind=who.kind.value)
        replay.remember(deps, uow, who.user_id, key, "wallet.register_external", asked,
                        wallet.id)
        uow.commit()
    return wallet


def _usable_challenge(uow: UnitOfWork, org_id: str, challenge_id: str, public_key: bytes,
                      now_ms: int) -> KeyChallenge:
    """The organisation's challenge for this key, locked, if unused and unexpired. Another
    organisation's challenge answers as if absent."""
    found = (uow.repo(KeyChallenge).get(challenge_id, for_update=True)
             if len(challenge_id) <= 64 else None)
    if (found is None or found.org_id != org_id
            or found.public_key != keys.encode_public_key(public_key)):
        message = "no challenge of this organisation for this key"
        raise Err.CHALLENGE_UNKNOWN.error(message, {"challenge_id": message})
    if found.used_ms is not None:
        raise Err.CHALLENGE_USED.error()
    if now_ms >= found.expires_ms:
        raise Err.CHALLENGE_EXPIRED.error()
    return found


def _on_curve(public_key: bytes) -> bool:
    """A key that can ever sign: the ledger opens an account for any 32 bytes, so an
    off-curve key would make an account nobody controls. (The ledger's crypto library;
    corridor.ledger.keys checks only the encoding.)"""
    try:
        coincurve.PublicKeyXOnly(public_key)
    except ValueError:
        return False
    return True


def reopen(deps: Deps, uow: UnitOfWork, wallet_id: str) -> bool:
    """Queues the opening of an `open` wallet again (the chain does not have its account:
    services/reconcile.py), and its granted authorisations with it. False if the wallet
    is no longer open (changed since it was checked)."""
    wallet = uow.repo(Wallet).get(wallet_id, for_update=True)
    if wallet is None or wallet.status != WalletStatus.OPEN:
        return False
    now = deps.clock.now_ms()
    uow.repo(Wallet).update(dataclasses.replace(wallet, status=WalletStatus.OPENING,
                                                updated_ms=now))
    job = _queue_job(deps, uow, JobKind.OPEN_ACCOUNT, wallet.id,
                     {"public_key": wallet.public_key})
    codes = []
    for auth in uow.repo(Authorisation).many(wallet_id=wallet.id,
                                             status=AuthStatus.AUTHORISED):
        again = _queue_job(deps, uow, JobKind.AUTHORISE, wallet.id,
                           {"address": wallet.address, "code": auth.asset_code})
        uow.repo(Authorisation).update(dataclasses.replace(
            auth, status=AuthStatus.REQUESTED, job_id=again.id, updated_ms=now))
        freezes.extend(deps, uow, wallet, auth.asset_code)
        codes.append(auth.asset_code)
    uow.audit(actor_id=None, actor_kind="system", action="wallet.repair",
              object_type="wallet", object_id=wallet.id,
              before={"status": wallet.status},
              after={"status": WalletStatus.OPENING.value, "job_id": job.id,
                     "reason": "open on the platform, absent on chain",
                     "authorisations": codes})
    return True


# --- Reading -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WalletView:
    """A wallet as its owner sees it: the record (never its sealed key), the asset
    authorisations asked for, and its on-chain state when the node answered."""

    wallet: Wallet
    authorisations: tuple[Authorisation, ...]
    chain: ChainAccount | None


def list_wallets(deps: Deps, who: Principal, *, org_id: str | None = None,
                 with_chain: bool = True) -> tuple[list[WalletView], bool]:
    """The caller's own wallets, or an organisation's (Perm.ORG_READ), with on-chain state;
    the flag says whether the node was reached (False: chain state left out)."""
    with deps.uow() as uow:
        if org_id is None:
            owner_type, owner_id = OwnerType.USER, who.user_id
        else:
            require_org(uow, who, org_id, Perm.ORG_READ)
            owner_type, owner_id = OwnerType.ORG, org_id
    return owner_views(deps, owner_type, owner_id, with_chain=with_chain)


def owner_views(deps: Deps, owner_type: OwnerType, owner_id: str, *,
                with_chain: bool = True) -> tuple[list[WalletView], bool]:
    """An owner's wallets with on-chain state, for a caller whose access was checked
    (the owner itself, or staff reading a customer: services/backoffice.py)."""
    with deps.uow() as uow:
        wallets = uow.repo(Wallet).many(owner_type=owner_type, owner_id=owner_id,
                                        order_by="created_ms", limit=w.WALLETS_PER_OWNER_MAX)
        auths = {x.id: tuple(uow.repo(Authorisation).many(wallet_id=x.id,
                                                          order_by="asset_code"))
                 for x in wallets}
    node = ledger_node(deps) if with_chain else None
    reached = node is not None
    chain: dict[str, ChainAccount | None] = {}
    for wallet in wallets:
        if (not reached or node is None or wallet.status != WalletStatus.OPEN
                or not wallet.proven):  # a key claimed without proof: not theirs to see
            continue
        try:
            chain[wallet.id] = node.account(wallet.address)
        except PlatformError as exc:
            if exc.kind is not Kind.UNAVAILABLE:
                raise
            reached = False
    views = [WalletView(wallet=x, authorisations=auths[x.id], chain=chain.get(x.id))
             for x in wallets]
    return views, reached


# --- Outcomes reported by the outbox worker ------------------------------------------------


def record_done(deps: Deps, uow: UnitOfWork, job: LedgerJob) -> None:
    """The chain carried out `job`: the wallet is open, or the authorisation granted."""
    now = deps.clock.now_ms()
    uow.repo(LedgerJob).update(dataclasses.replace(
        job, status=JobStatus.DONE, error_code=None, error_message=None, updated_ms=now))
    if job.kind == JobKind.OPEN_ACCOUNT:
        _set_wallet_status(uow, job.wallet_id, WalletStatus.OPEN, now)
    else:
        _set_auth_status(uow, job, AuthStatus.AUTHORISED, now)


def record_failed(deps: Deps, uow: UnitOfWork, job: LedgerJob, code: str,
                  message: str) -> None:
    """The chain refused `job` for good (or its attempts ran out)."""
    now = deps.clock.now_ms()
    uow.repo(LedgerJob).update(w.job_failed(job, code, message, now))
    if job.kind == JobKind.OPEN_ACCOUNT:
        _set_wallet_status(uow, job.wallet_id, WalletStatus.FAILED, now)
    else:
        _set_auth_status(uow, job, AuthStatus.FAILED, now)
    uow.audit(actor_id=None, actor_kind="system", action=f"ledger.{job.kind}.failed",
              object_type="wallet", object_id=job.wallet_id,
              after={"job_id": job.id, "code": code, "message": message[:200]})


def _set_wallet_status(uow: UnitOfWork, wallet_id: str, status: WalletStatus, now: int) -> None:
    wallet = uow.repo(Wallet).get(wallet_id, for_update=True)
    assert wallet is not None, wallet_id
    if wallet.status != status:
        uow.repo(Wallet).update(dataclasses.replace(wallet, status=status, updated_ms=now))


def _set_auth_status(uow: UnitOfWork, job: LedgerJob, status: AuthStatus, now: int) -> None:
    auth = uow.repo(Authorisation).one(wallet_id=job.wallet_id,
                                       asset_code=job.payload["code"])
    # A later request may have replaced the job this authorisation waits for.
    if auth is not None and auth.job_id == job.id:
        uow.repo(Authorisation).update(dataclasses.replace(auth, status=status, updated_ms=now))
