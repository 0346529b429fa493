"""The evidence graph of a compliance case (issue 16): the money flows around the case's
subject — its payments out and in over the last GRAPH_WINDOW_DAYS, and the payments of
its counterparties on the platform (the second hop, for at most
GRAPH_SECOND_HOP_PARTIES_MAX of them) — folded and bounded by domain/cases.py `graph`.
Every read is bounded (GRAPH_PAYMENTS_MAX per party and direction)."""

from __future__ import annotations

from corridor.platform.domain import cases as cdom
from corridor.platform.domain import compliance as dom
from corridor.platform.domain import wallets as w
from corridor.platform.domain.compliance import Case
from corridor.platform.domain.errors import forbidden, not_found
from corridor.platform.domain.identity import User
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.payments import Payment, RecipientType
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services.ports import Deps, UnitOfWork


def party_of_owner(owner_type: str, owner_id: str) -> str:
    return f"{owner_type}:{owner_id}"


def _target(uow: UnitOfWork, p: Payment, wallets: dict[str, str]) -> str:
    if p.recipient_type == RecipientType.USER and p.recipient_user_id:
        return party_of_owner("user", p.recipient_user_id)
    if p.recipient_wallet_id:
        if p.recipient_wallet_id not in wallets:
            found = uow.repo(Wallet).get(p.recipient_wallet_id)
            wallets[p.recipient_wallet_id] = (party_of_owner(found.owner_type, found.owner_id)
                                              if found else f"wallet:{p.recipient_wallet_id}")
        return wallets[p.recipient_wallet_id]
    if p.recipient_type == RecipientType.EXTERNAL:
        return f"bank:{p.recipient_name}"
    return f"address:{p.recipient_address or p.recipient_name}"


def _flow(uow: UnitOfWork, p: Payment, wallets: dict[str, str]) -> cdom.Flow:
    return cdom.Flow(payment_id=p.id, source=party_of_owner(p.owner_type, p.owner_id),
                     target=_target(uow, p, wallets), code=p.sell_code,
                     amount_minor=p.sell_amount_minor, status=p.status,
                     created_ms=p.created_ms)


def _payments_of(uow: UnitOfWork, party: str, since: int) -> tuple[list[Payment], bool]:
    """A party's payments out and in since `since`, newest first, bounded; and whether
    the bound cut some off."""
    kind, _, pid = party.partition(":")
    bound = cdom.GRAPH_PAYMENTS_MAX
    repo = uow.repo(Payment)
    out = repo.many(owner_type=kind, owner_id=pid, above={"created_ms": since},
                    order_by="created_ms", descending=True, limit=bound)
    if kind == "user":
        inbound = repo.many(recipient_user_id=pid, above={"created_ms": since},
                            order_by="created_ms", descending=True, limit=bound)
    else:
        ids = tuple(x.id for x in uow.repo(Wallet).many(owner_type=kind, owner_id=pid,
                                                        limit=w.WALLETS_PER_OWNER_MAX))
        inbound = repo.many(recipient_wallet_id=ids, above={"created_ms": since},
                            order_by="created_ms", descending=True, limit=bound) if ids else []
    return out + inbound, len(out) >= bound or len(inbound) >= bound


def _label(uow: UnitOfWork, party: str) -> str:
    kind, _, pid = party.partition(":")
    if kind == "user":
        user = uow.repo(User).get(pid)
        return user.name if user else pid
    if kind == "org":
        org = uow.repo(Organisation).get(pid)
        return org.name if org else pid
    return pid


def graph_in(deps: Deps, uow: UnitOfWork, case: Case) -> cdom.Graph:
    since = deps.clock.now_ms() - cdom.GRAPH_WINDOW_DAYS * cdom.DAY_MS
    subject = party_of_owner(case.subject_type, case.subject_id)
    wallets: dict[str, str] = {}
    first, truncated = _payments_of(uow, subject, since)
    flows = [_flow(uow, p, wallets) for p in first]
    near = sorted({p for f in flows for p in (f.source, f.target)
                   if p != subject and p.partition(":")[0] in ("user", "org")})
    if len(near) > cdom.GRAPH_SECOND_HOP_PARTIES_MAX:
        near, truncated = near[:cdom.GRAPH_SECOND_HOP_PARTIES_MAX], True
    for party in near:
        more, cut = _payments_of(uow, party, since)
        flows += [_flow(uow, p, wallets) for p in more]
        truncated = truncated or cut
    parties = {subject} | {p for f in flows for p in (f.source, f.target)}
    labels = {p: _label(uow, p) for p in sorted(parties)[:cdom.GRAPH_NODES_MAX * 4]}
    return cdom.graph(subject, flows, labels, since_ms=since, truncated=truncated)


def graph(deps: Deps, who: Principal | None, case_id: str) -> cdom.Graph:
    """The case's graph of flows (compliance officers; None: the operator's CLI)."""
    if who is not None and not who.staff_can(Perm.COMPLIANCE_REVIEW):
        raise forbidden()
    with deps.reader() as uow:
        found = uow.repo(Case).get(case_id[:dom.ID_LEN_MAX])
        if found is None:
            raise not_found("case")
        return graph_in(deps, uow, found)
