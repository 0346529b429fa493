"""Operations check: wallets the platform shows `open` whose account the chain does not
have (issue 14/3: a refused batch once had every job in it marked done, so a customer's
wallet showed open, was absent on chain, and its authorisations and deposits failed).

`check_open_wallets` asks the node about every open wallet; with `repair` it puts each
absent one back to `opening` with a new open_account job (and its asset authorisations
back to requested), in one transaction per wallet, audited. The outbox worker then opens
it; should the account exist after all, the worker marks it done only once the node
shows it. A key registered without a proof of control (before proofs existed) is
reported, never re-opened: its account would belong to whoever holds the key.
"""

from __future__ import annotations

import dataclasses

from corridor.platform.domain.errors import Err
from corridor.platform.domain.wallets import Wallet, WalletStatus
from corridor.platform.services import wallets
from corridor.platform.services.ports import Deps

CHECK_PAGE_MAX = 500  # wallets read per database round trip


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Absent:
    """An `open` wallet the chain has no account for."""

    wallet_id: str
    address: str
    owner_type: str
    owner_id: str
    repaired: bool  # its opening was queued again


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WalletCheck:
    checked: int
    absent: tuple[Absent, ...]

    @property
    def ok(self) -> bool:
        """Nothing absent is left unrepaired."""
        return all(a.repaired for a in self.absent)


def check_open_wallets(deps: Deps, *, repair: bool = False) -> WalletCheck:
    """Every `open` wallet checked against the chain (the node must answer: UNAVAILABLE
    otherwise), and with `repair` the absent ones queued for opening again."""
    node = wallets.ledger_node(deps)
    if node is None:
        raise Err.NODE_NOT_CONFIGURED.error()
    checked = 0
    absent: list[Wallet] = []
    after = ""
    while True:
        with deps.reader() as uow:
            page = uow.repo(Wallet).many(status=WalletStatus.OPEN, order_by="id",
                                         above={"id": after}, limit=CHECK_PAGE_MAX)
        for wallet in page:
            checked += 1
            if node.account(wallet.address) is None:
                absent.append(wallet)
        if len(page) < CHECK_PAGE_MAX:
            break
        after = page[-1].id
    found = []
    for wallet in absent:
        done = repair and wallet.proven and _reopen(deps, wallet.id)
        found.append(Absent(wallet_id=wallet.id, address=wallet.address,
                            owner_type=wallet.owner_type, owner_id=wallet.owner_id,
                            repaired=done))
    return WalletCheck(checked=checked, absent=tuple(found))


def _reopen(deps: Deps, wallet_id: str) -> bool:
    with deps.uow() as uow:
        reopened = wallets.reopen(deps, uow, wallet_id)
        uow.commit()
    return reopened
