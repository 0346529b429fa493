"""Ledger invariants. A violation is a bug in the rules, never bad input.

- per asset, holder balances plus escrowed amounts equal the issuer's outstanding supply;
- no balance is negative or above AMOUNT_MAX, and issuers hold none of their own assets;
- holdings and signers are canonical (sorted, bounded), thresholds reachable;
- sequences only grow.

`check_state` walks a whole committed state (tests, recovery). `check_transition` checks a
transaction's or block's overlay against the state it was applied to in O(writes), which is
cheap enough for the node's debug mode to run after every transaction.
"""

from __future__ import annotations

from collections import defaultdict

from corridor.ledger.assets import Asset
from corridor.ledger.limits import AMOUNT_MAX, HOLDINGS_MAX, SIGNERS_MAX
from corridor.ledger.records import Account, asset_sort_key
from corridor.ledger.state import MemoryState, Overlay, StateView


def _account_problems(acct: Account) -> list[str]:
    problems = []
    keys = [asset_sort_key(h.asset) for h in acct.holdings]
    if keys != sorted(set(keys)) or len(keys) > HOLDINGS_MAX:
        problems.append("holdings not sorted, unique and bounded")
    for h in acct.holdings:
        if not 0 <= h.balance <= AMOUNT_MAX:
            problems.append(f"{h.asset.code} balance {h.balance} out of range")
        if h.asset.issuer == acct.address:
            problems.append(f"issuer holds its own {h.asset.code}")
    pks = [s.public_key for s in acct.signers]
    if pks != sorted(set(pks)) or not 1 <= len(pks) <= SIGNERS_MAX:
        problems.append("signers not sorted, unique and bounded")
    if not 1 <= acct.threshold <= sum(s.weight for s in acct.signers):
        problems.append("threshold unreachable")
    return [f"account {acct.address.hex()}: {p}" for p in problems]


def check_state(state: MemoryState) -> list[str]:
    """Every violation in a whole state (empty list: all invariants hold)."""
    problems: list[str] = []
    held: dict[Asset, int] = defaultdict(int)
    for acct in state.accounts.values():
        problems.extend(_account_problems(acct))
        for h in acct.holdings:
            held[h.asset] += h.balance
            if h.asset not in state.assets:
                problems.append(f"holding of unknown asset {h.asset.code}")
    for escrow in state.escrows.values():
        held[escrow.asset] += escrow.amount
        if escrow.amount <= 0:
            problems.append(f"escrow {escrow.escrow_id.hex()} holds {escrow.amount}")
    for asset, info in state.assets.items():
        if held[asset] != info.supply:
            problems.append(f"{asset.code}: holdings+escrows {held[asset]} != supply {info.supply}")
        if not 0 <= info.supply <= AMOUNT_MAX:
            problems.append(f"{asset.code}: supply {info.supply} out of range")
    return problems


def check_transition(before: StateView, after: Overlay) -> list[str]:
    """Violations introduced by `after`'s writes on top of `before` (O(writes))."""
    problems: list[str] = []
    delta: dict[Asset, int] = defaultdict(int)
    for address, acct in after.accounts.items():
        problems.extend(_account_problems(acct))
        old = before.account(address)
        if old is not None:
            if acct.sequence < old.sequence:
                problems.append(f"account {address.hex()}: sequence went back")
            for h in old.holdings:
                delta[h.asset] -= h.balance
        for h in acct.holdings:
            delta[h.asset] += h.balance
    for escrow_id, escrow in after.escrows.items():
        old_escrow = before.escrow(escrow_id)
        if old_escrow is not None:
            delta[old_escrow.asset] -= old_escrow.amount
        if escrow is not None:
            delta[escrow.asset] += escrow.amount
    for asset in set(delta) | set(after.assets):
        new_info = after.asset(asset)
        old_info = before.asset(asset)
        new_supply = 0 if new_info is None else new_info.supply
        old_supply = 0 if old_info is None else old_info.supply
        if delta[asset] != new_supply - old_supply:
            problems.append(
                f"{asset.code}: holdings moved by {delta[asset]}, "
                f"supply by {new_supply - old_supply}"
            )
    return problems
