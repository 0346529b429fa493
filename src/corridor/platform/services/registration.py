"""Sign-up (requirement A1): register with e-mail and/or phone, accept the current terms
and privacy policy, verify a channel with a one-time code.

Enumeration: registering an address that already belongs to an account answers exactly
like a new registration; only the mailbox owner learns anything. An active account's owner
gets a notice instead of a code. A pending (never verified) registration is left as it is:
its address gets a fresh verification code and nothing else changes (neither its password
nor its other address), so a second registration cannot disable or take over the first.
Nobody can squat an address they do not control: the account stays pending until the
address's owner verifies it, and a sign-in needs a code sent to that address.
"""

from __future__ import annotations

import dataclasses

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import Err, Problems
from corridor.platform.domain.identity import Channel, Purpose, User
from corridor.platform.domain.principal import Origin
from corridor.platform.domain.roles import UserKind
from corridor.platform.services import codes, wallets
from corridor.platform.services.mail_text import Mail
from corridor.platform.services.ports import Deps, UnitOfWork


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Register:
    name: str
    email: str | None
    phone: str | None
    password: str
    accept_terms: bool
    terms_version: str
    privacy_version: str
    # The language of the request (one of idn.LANGUAGES; "" none): the verification code
    # is written in it, and it stays the person's choice until they make another.
    language: str = ""


def _check(cmd: Register) -> tuple[str, str | None, str | None]:
    p = Problems()
    name = idn.check_name(cmd.name, p)
    weak = idn.check_password(cmd.password, p,
                              user_inputs=(cmd.name, cmd.email or "", cmd.phone or ""))
    email = phone = None
    if not cmd.email and not cmd.phone:
        p.add("email", "give an e-mail address or a phone number")
    if cmd.email:
        try:
            email = idn.normalise_email(cmd.email)
        except Exception as exc:  # PlatformError: collect with the others
            p.add("email", getattr(exc, "message", "invalid"))
    if cmd.phone:
        try:
            phone = idn.normalise_phone(cmd.phone)
        except Exception as exc:
            p.add("phone", getattr(exc, "message", "invalid"))
    if not cmd.accept_terms:
        p.add("accept_terms", "you must accept the terms and the privacy policy")
    if cmd.terms_version != idn.TERMS_VERSION:
        p.add("terms_version", f"the current terms are version {idn.TERMS_VERSION}")
    if cmd.privacy_version != idn.PRIVACY_VERSION:
        p.add("privacy_version", f"the current privacy policy is version {idn.PRIVACY_VERSION}")
    p.raise_if_any(idn.password_code(p, weak))
    return name, email, phone


def register(deps: Deps, cmd: Register, origin: Origin) -> None:
    """Creates a pending customer and sends verification codes. Answers the same whether
    or not the address was already registered."""
    name, email, phone = _check(cmd)
    password_hash = deps.hasher.hash(cmd.password)  # before the transaction: it is slow
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        users = uow.repo(User)
        taken = [u for u in (users.one(email=email) if email else None,
                             users.one(phone=phone) if phone else None) if u is not None]
        active = [u for u in taken if u.status != idn.UserStatus.PENDING]
        if active:
            for u in active:
                codes.notify_user(deps, uow, u, Mail.REGISTER_TAKEN)
            uow.commit()
            return
        if taken:  # pending: the address gets its code again, nothing else changes
            for u in {u.id: u for u in taken}.values():
                _send_verifications(deps, uow, u, only=(email, phone))
            uow.commit()
            return
        user = User(
            id=deps.rand.new_id(), kind=UserKind.CUSTOMER, staff_role=None, name=name,
            email=email, email_verified=False, phone=phone, phone_verified=False,
            password_hash=password_hash, totp_secret_enc=None, totp_enabled=False,
            totp_last_step=0, status=idn.UserStatus.PENDING, failed_logins=0,
            locked_until_ms=0, terms_version=cmd.terms_version,
            privacy_version=cmd.privacy_version, terms_accepted_ms=now, created_ms=now,
            updated_ms=now, language=cmd.language if cmd.language in idn.LANGUAGES else "",
        )
        users.add(user)
        _send_verifications(deps, uow, user)
        uow.audit(actor_id=user.id, actor_kind="customer", action="auth.register",
                  object_type="user", object_id=user.id,
                  after={"email": email, "phone": phone, "terms_version": cmd.terms_version,
                         "privacy_version": cmd.privacy_version}, ip=origin.ip)
        uow.commit()


def _send_verifications(deps: Deps, uow: UnitOfWork, user: User,
                        only: tuple[str | None, ...] | None = None) -> None:
    """Codes to the user's unverified addresses (`only`: to those of them it names)."""
    def wanted(address: str | None) -> bool:
        return bool(address) and (only is None or address in only)

    if user.email and not user.email_verified and wanted(user.email):
        codes.issue(deps, uow, user, Purpose.VERIFY_EMAIL, Channel.EMAIL, user.email)
    if user.phone and not user.phone_verified and wanted(user.phone):
        codes.issue(deps, uow, user, Purpose.VERIFY_PHONE, Channel.SMS, user.phone)


def find_by_identifier(uow: UnitOfWork, identifier: str) -> User | None:
    """The user an e-mail address or phone number names (None if it names nobody or is
    not an address at all)."""
    identifier = identifier.strip()
    try:
        if "@" in identifier:
            return uow.repo(User).one(email=idn.normalise_email(identifier))
        return uow.repo(User).one(phone=idn.normalise_phone(identifier))
    except Exception:  # not a valid address: names nobody
        return None


def resend(deps: Deps, identifier: str) -> None:
    """Sends new verification codes to a pending registration; silent otherwise."""
    with deps.uow() as uow:
        user = find_by_identifier(uow, identifier)
        if user is not None and user.status == idn.UserStatus.PENDING:
            _send_verifications(deps, uow, user)
            uow.commit()




def verify(deps: Deps, identifier: str, code: str, origin: Origin) -> None:
    """Marks the channel `identifier` names as verified; activates a pending customer and
    opens their custodial wallet."""
    now = deps.clock.now_ms()
    with deps.uow() as uow:
        user = find_by_identifier(uow, identifier)
        if user is None or user.status == idn.UserStatus.DISABLED:
            raise Err.CODE_INVALID.error()
        is_email = "@" in identifier
        purpose = Purpose.VERIFY_EMAIL if is_email else Purpose.VERIFY_PHONE
        used = codes.consume(deps, uow, user.id, purpose, code)
        if used is None:
            uow.commit()  # the failed attempt counts
            raise Err.CODE_INVALID.error()
        before = {"status": user.status, "email_verified": user.email_verified,
                  "phone_verified": user.phone_verified}
        user = dataclasses.replace(
            user,
            email_verified=user.email_verified or is_email,
            phone_verified=user.phone_verified or not is_email,
            status=idn.UserStatus.ACTIVE, updated_ms=now,
        )
        uow.repo(User).update(user)
        if before["status"] == idn.UserStatus.PENDING and user.kind == UserKind.CUSTOMER:
            wallets.ensure_wallet(deps, uow, owner_type="user", owner_id=user.id)
        uow.audit(actor_id=user.id, actor_kind=user.kind, action="auth.verify_channel",
                  object_type="user", object_id=user.id, before=before,
                  after={"status": user.status, "email_verified": user.email_verified,
                         "phone_verified": user.phone_verified}, ip=origin.ip)
        uow.commit()
