"""The real ledger against the reference model (tests/ledger/reference.py), by Hypothesis.

`LedgerModel` starts both from one genesis (two issuers with assets of varied flags, six
holders, multi-signature accounts, a key shared by two accounts) and submits random
transactions, valid and invalid: wrong sequences, chains and windows; bad, missing, extra and
wrong-key signatures; overdrafts, frozen and unauthorised holders; unknown accounts, assets and
escrows; hash and time locks met, missed and expired; multi-operation transactions whose later
operations fail; operations with their own sources; mints, burns, clawbacks, new signers.

After every step: the same decision, code, failing operation and per-operation results; the
same accounts, assets and escrows, record for record; `check_state` of the committed state and
`check_transition` of every accepted overlay are empty.

Default settings take about 35 s of CPU (200 runs of 50 steps). `CORRIDOR_LONG_TESTS=1` runs a
soak profile (1,000 runs of 100 steps, some ten minutes). The generators are tuned so that each
of a dozen hand-made one-line bugs in rules/v1.py (a check dropped, an off-by-one at a time or
supply boundary, two checks swapped, an escrow id off by one) fails a default run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from typing import Any

from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from corridor.ledger import keys, limits
from corridor.ledger.assets import Asset
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import RejectCode as R
from corridor.ledger.errors import Rejection
from corridor.ledger.genesis import parse_genesis
from corridor.ledger.invariants import check_state, check_transition
from corridor.ledger.rules.v1 import apply_tx
from corridor.ledger.state import MemoryState, Overlay
from corridor.ledger.tx import (
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    HolderAction,
    IssueAsset,
    OpenAccount,
    Operation,
    Payment,
    SetHolder,
    SetSigners,
    Signature,
    SignedTransaction,
    Signer,
    Transaction,
)
from tests.ledger import builders, reference
from tests.ledger.builders import CHAIN, T0, asset, ctx, genesis_doc, tx
from tests.ledger.reference import Accepted, Outcome, ReferenceLedger, Rejected

LONG = os.environ.get("CORRIDOR_LONG_TESTS") == "1"
key = functools.cache(builders.key)  # deriving a key pair costs ~70 µs; the machine asks often

# --- The cast -------------------------------------------------------------------------------

ISSUERS = ("bank", "bank2")
HOLDERS = ("alice", "bob", "carol", "dave", "erin", "frank")
NEW_ACCOUNTS = ("new-0", "new-1", "new-2")  # opened by OpenAccount during a run
GHOST = "ghost"  # never opened: an unknown account
EXTRA_SIGNERS = ("carol-2", "carol-3", "ops", "mallory")  # keys that are not accounts
ALL_NAMES = (*ISSUERS, *HOLDERS, *NEW_ACCOUNTS, GHOST, *EXTRA_SIGNERS)
NAME_OF_KEY = {key(n).public_key: n for n in ALL_NAMES}
NAME_OF_ADDRESS = {key(n).address: n for n in ALL_NAMES}
SIGNER_POOL = ("alice", "bob", "carol-2", "ops", "mallory", "new-0")

SECRETS = (b"alpha", b"beta", b"gamma")  # hash-lock preimages; "gamma" never locks anything
LOCK_SECRET = {hashlib.sha256(s).digest(): s for s in SECRETS[:2]}
LOCKS = tuple(LOCK_SECRET)

ASSETS: tuple[tuple[str, str, dict[str, bool]], ...] = (
    ("USD", "bank", {"auth_required": True, "freezable": True, "clawback": True}),
    ("EUR", "bank", {}),
    ("GBP", "bank2", {"freezable": True}),
    ("JPY", "bank2", {"clawback": True}),
    ("SGD", "bank2", {"auth_required": True}),
)
BALANCES = (
    ("alice", "USD", 100_000),
    ("bob", "USD", 5_000),
    ("carol", "USD", 0),  # authorised, empty; erin and frank are not authorised for USD
    ("alice", "EUR", 50_000),
    ("dave", "EUR", 1_000),
    ("bob", "GBP", 20_000),
    ("carol", "GBP", 3_000),
    ("dave", "JPY", 7_000),
    ("erin", "JPY", 100),
    ("alice", "SGD", 0),
    ("frank", "SGD", 500),
)
# Multi-signature: carol is 2-of-3 weighted, bank2 needs two keys, `ops` signs for both dave
# (alone) and bank2 (with bank2's own key).
MULTISIG = {
    "carol": ((("carol", 1), ("carol-2", 1), ("carol-3", 2)), 2),
    "dave": ((("dave", 1), ("ops", 1)), 1),
    "bank2": ((("bank2", 1), ("ops", 1)), 2),
}
WEIGHTS = st.sampled_from((1, 1, 1, 2, 3, 0))  # weight 0 is BAD_SIGNERS
OP_KINDS = (
    *("payment",) * 6,
    *("escrow_create",) * 3,
    *("escrow_finish", "escrow_cancel", "clawback", "issue_asset", "open_account"),
    *("set_holder",) * 3,
    *("set_signers",) * 2,
)
# Freezing and authorising change most; revoking and unfreezing are often no-ops.
HOLDER_ACTIONS = (
    *(HolderAction.FREEZE, HolderAction.AUTHORISE, HolderAction.REVOKE) * 2,
    *HolderAction,
)
ISSUE_CODES = ("USD", "EUR", "NEW1", "NEW2")  # re-issuing an existing code is ASSET_EXISTS
UNKNOWN_ASSETS = (Asset("XYZ", key("bank").address), Asset("USD", key("alice").address))


def _genesis_document() -> dict[str, Any]:
    doc = genesis_doc(
        holders=HOLDERS,
        issuers=ISSUERS,
        assets=ASSETS,
        balances=BALANCES,
        authorise_all=False,
    )
    for entry in doc["accounts"]:
        name = NAME_OF_KEY[keys.decode_public_key(entry["public_key"])]
        if name in MULTISIG:
            signers, threshold = MULTISIG[name]
            entry["signers"] = [
                {"public_key": keys.encode_public_key(key(n).public_key), "weight": w}
                for n, w in signers
            ]
            entry["threshold"] = threshold
    return doc


GENESIS_TEXT = json.dumps(_genesis_document())


def test_reference_limits_match_the_protocol() -> None:
    assert reference.AMOUNT_MAX == limits.AMOUNT_MAX
    assert reference.HOLDINGS_MAX == limits.HOLDINGS_MAX
    assert reference.SIGNERS_MAX == limits.SIGNERS_MAX


def test_reference_starts_from_the_same_genesis() -> None:
    real = parse_genesis(GENESIS_TEXT).state
    ref = ReferenceLedger.from_genesis_document(json.loads(GENESIS_TEXT))
    assert real.accounts == ref.account_records()
    assert real.assets == ref.asset_records()
    assert real.escrows == ref.escrow_records() == {}


def apply_both(real: MemoryState, ref: ReferenceLedger, stx: SignedTransaction) -> Outcome:
    """Applies `stx` to both ledgers at the builders' default time and checks they agree."""
    context = ctx()
    new_state, outcome = apply_tx(real, stx, context)
    expected = ref.apply(stx, context)
    if isinstance(outcome, Rejection):
        assert Rejected(outcome.code, outcome.op_index) == expected
    else:
        assert Accepted(tuple((r.delivered, r.created_id) for r in outcome.op_results)) == expected
        assert isinstance(new_state, Overlay)
        assert check_transition(real, new_state) == []
        real.commit(new_state)
    assert real.accounts == ref.account_records()
    assert real.assets == ref.asset_records()
    assert real.escrows == ref.escrow_records()
    assert check_state(real) == []
    return expected


def test_holdings_limit_agrees_with_the_reference() -> None:
    """TOO_MANY_HOLDINGS needs 64 assets, out of the machine's reach: one scripted run."""
    real = parse_genesis(GENESIS_TEXT).state
    ref = ReferenceLedger.from_genesis_document(json.loads(GENESIS_TEXT))
    codes = [f"C{i}" for i in range(limits.HOLDINGS_MAX)]
    issue = [IssueAsset(code=c, decimals=0, freezable=True) for c in codes]
    assert isinstance(apply_both(real, ref, tx("erin", 1, *issue)), Accepted)
    frank = key("frank").address  # holds SGD already: room for 63 more
    pay = [Payment(destination=frank, asset=asset(c, "erin"), amount=1) for c in codes]
    assert apply_both(real, ref, tx("erin", 2, *pay)) == Rejected(R.TOO_MANY_HOLDINGS, 63)
    assert isinstance(apply_both(real, ref, tx("erin", 2, *pay[:63])), Accepted)
    last = codes[-1]
    freeze = SetHolder(holder=frank, code=last, action=HolderAction.FREEZE)
    assert apply_both(real, ref, tx("erin", 3, freeze)) == Rejected(R.TOO_MANY_HOLDINGS, 0)
    lock = EscrowCreate(destination=frank, asset=asset(last, "erin"), amount=5, hashlock=LOCKS[0])
    created = apply_both(real, ref, tx("erin", 3, lock))
    assert isinstance(created, Accepted)
    finish = EscrowFinish(escrow_id=created.op_results[0][1], preimage=SECRETS[0])
    assert apply_both(real, ref, tx("frank", 1, finish)) == Rejected(R.TOO_MANY_HOLDINGS, 0)


def one_in(data: st.DataObject, n: int, label: str) -> bool:
    """True with probability 1/n; shrinks to False, the ordinary case."""
    return data.draw(st.integers(0, n - 1), label) == n - 1


def _first_difference(real: dict[Any, Any], model: dict[Any, Any], what: str) -> str | None:
    for k in sorted(set(real) | set(model), key=repr):
        if real.get(k) != model.get(k):
            return f"{what} {k!r}:\n  real      {real.get(k)!r}\n  reference {model.get(k)!r}"
    return None


# --- The machine ----------------------------------------------------------------------------


class LedgerModel(RuleBasedStateMachine):
    """Both ledgers side by side. Rules: time passes (or jumps to an escrow's deadline), and
    a transaction is submitted; `apply` compares outcomes, `same_state` compares states."""

    def __init__(self) -> None:
        super().__init__()
        self.real: MemoryState = parse_genesis(GENESIS_TEXT).state
        self.ref = ReferenceLedger.from_genesis_document(json.loads(GENESIS_TEXT))
        self.now = T0 + 1_000
        self.height = 1
        self.escrow_ids: list[bytes] = []  # every escrow ever created, open or not

    # --- what exists now (read from the reference; the two are compared after every step) ---

    def account_names(self) -> list[str]:
        return [n for n in ALL_NAMES if key(n).address in self.ref.state.accounts]

    def assets(self) -> list[Asset]:
        return sorted(self.ref.state.assets, key=lambda a: (a.issuer, a.code))

    def balance(self, name: str, asset: Asset) -> int:
        acct = self.ref.state.accounts.get(key(name).address)
        holding = None if acct is None else acct.holdings.get(asset)
        return 0 if holding is None else holding.balance

    def blocked(self, name: str, asset: Asset) -> bool:
        """True if `name` holds `asset` but the holding is frozen or not authorised."""
        acct = self.ref.state.accounts.get(key(name).address)
        holding = None if acct is None else acct.holdings.get(asset)
        return holding is not None and (holding.frozen or not holding.authorised)

    def frozen_payees(self, src: str) -> list[tuple[str, Asset]]:
        """(holder, asset) of every frozen holding that `src` could otherwise pay into."""
        return [
            (name, asset)
            for name in self.account_names()
            for asset, holding in self.ref.state.accounts[key(name).address].holdings.items()
            if holding.frozen
            and name != src
            and (self.balance(src, asset) > 0 or asset.issuer == key(src).address)
        ]

    # --- drawing operations ---

    def draw_account(self, data: st.DataObject, label: str) -> str:
        """Mostly an existing account; now and then one that does not exist."""
        if one_in(data, 16, f"{label} is unknown"):
            return data.draw(st.sampled_from((GHOST, "new-2")), label)
        return data.draw(st.sampled_from(self.account_names()), label)

    def draw_asset(self, data: st.DataObject, src: str) -> Asset:
        known = self.assets()
        mine = [a for a in known if self.balance(src, a) > 0 or a.issuer == key(src).address]
        if one_in(data, 12, "asset is unknown"):
            return data.draw(st.sampled_from(UNKNOWN_ASSETS), "asset")
        blocked = [a for a in mine if self.blocked(src, a)]
        if blocked and one_in(data, 2, "blocked asset"):
            return data.draw(st.sampled_from(blocked), "asset")  # FROZEN, NOT_AUTHORISED
        if mine and not one_in(data, 4, "any asset"):
            return data.draw(st.sampled_from(mine), "asset")
        return data.draw(st.sampled_from(known), "asset")

    def draw_amount(self, data: st.DataObject, src: str, asset: Asset) -> int:
        balance = self.balance(src, asset)
        if one_in(data, 4, "edge amount"):
            edges = [max(1, balance), max(1, balance), balance + 1, limits.AMOUNT_MAX]
            info = self.ref.state.assets.get(asset)
            if info is not None and asset.issuer == key(src).address:
                room = limits.AMOUNT_MAX - info.supply  # a mint of exactly the room, or one more
                edges = [max(1, room), min(room + 1, limits.AMOUNT_MAX)]
            return data.draw(st.sampled_from(edges), "amount")
        return data.draw(st.integers(1, max(1, min(balance, 2_000))), "amount")

    def draw_counterparty(self, data: st.DataObject, src: str, asset: Asset) -> bytes:
        """A destination: any account, the asset's issuer (a burn), the source itself, a ghost."""
        names = [n for n in self.account_names() if n != src]
        blocked = [n for n in names if self.blocked(n, asset)]
        if blocked and one_in(data, 2, "blocked destination"):
            names = blocked
        elif one_in(data, 4, "odd destination"):
            names = [src, GHOST, "issuer", "issuer"]
        name = data.draw(st.sampled_from(names), "destination")
        return asset.issuer if name == "issuer" else key(name).address

    def draw_escrow_id(self, data: st.DataObject, due: list[bytes]) -> bytes:
        """Mostly an open escrow, preferably one at a time boundary (now is within a
        millisecond of its finish or cancel time) or one that is `due` (its time has come);
        sometimes one already finished or cancelled, or an id that never was an escrow."""
        open_ids = sorted(self.ref.state.escrows)
        escrows = self.ref.state.escrows
        boundary = [
            escrow_id
            for escrow_id in open_ids
            for t in (escrows[escrow_id].finish_after_ms, escrows[escrow_id].cancel_after_ms)
            if t is not None and abs(self.now - t) <= 1
        ]
        if boundary and one_in(data, 2, "escrow at a boundary"):
            return data.draw(st.sampled_from(boundary), "escrow id")
        if due and not one_in(data, 3, "not a due escrow"):
            return data.draw(st.sampled_from(due), "escrow id")
        if open_ids and not one_in(data, 4, "not an open escrow"):
            return data.draw(st.sampled_from(open_ids), "escrow id")
        if self.escrow_ids and not one_in(data, 3, "never an escrow"):
            return data.draw(st.sampled_from(self.escrow_ids), "escrow id")
        return data.draw(st.binary(min_size=32, max_size=32), "escrow id")

    def issuers(self) -> list[str]:
        return sorted({NAME_OF_ADDRESS[a.issuer] for a in self.ref.state.assets})

    def draw_operation(self, data: st.DataObject, tx_source: str) -> Operation:
        kind = data.draw(st.sampled_from(OP_KINDS), "kind")
        if self.ref.state.escrows and one_in(data, 3, "settle an escrow"):
            kind = data.draw(st.sampled_from(("escrow_finish", "escrow_cancel")), "kind")
        elif kind in ("escrow_finish", "escrow_cancel") and not self.ref.state.escrows:
            # Nothing to settle yet: usually make something to settle instead.
            kind = data.draw(st.sampled_from(("escrow_create", "escrow_create", kind)), "kind")
        own = None
        if one_in(data, 5, "op has its own source"):
            own = self.draw_account(data, "op source")
        elif kind in ("set_holder", "clawback") and tx_source not in self.issuers():
            # Issuer operations need an issuer: usually make one the operation's source.
            own = data.draw(st.sampled_from([*self.issuers(), tx_source]), "issuer")
        src = own or tx_source
        op: Operation = getattr(self, f"draw_{kind}")(data, src)
        return dataclasses.replace(op, source=None if own is None else key(own).address)

    def draw_payment(self, data: st.DataObject, src: str) -> Payment:
        frozen = self.frozen_payees(src)
        if frozen and one_in(data, 3, "pay a frozen holder"):
            name, asset = data.draw(st.sampled_from(frozen), "frozen holder")
            amount = self.draw_amount(data, src, asset)
            return Payment(destination=key(name).address, asset=asset, amount=amount)
        asset = self.draw_asset(data, src)
        return Payment(
            destination=self.draw_counterparty(data, src, asset),
            asset=asset,
            amount=self.draw_amount(data, src, asset),
        )

    def draw_escrow_create(self, data: st.DataObject, src: str) -> EscrowCreate:
        asset = self.draw_asset(data, src)
        # Conditions: mostly a well-formed lock with times near now, sometimes none at all, a
        # cancel time already past, or a cancel time not after the finish time (BAD_ESCROW).
        hashlock = data.draw(st.none() | st.sampled_from(LOCKS), "hashlock")
        finish_after = cancel_after = None
        if data.draw(st.booleans(), "finish time"):
            finish_after = self.now + data.draw(st.integers(-2_000, 15_000), "finish in")
        if data.draw(st.booleans(), "cancel time"):
            opens = max(self.now, finish_after or 0)
            cancel_after = opens + data.draw(st.integers(1, 8_000), "window")
            if one_in(data, 8, "bad cancel time"):
                cancel_after = data.draw(st.sampled_from((self.now, finish_after or 0)), "bad")
        return EscrowCreate(
            destination=self.draw_counterparty(data, src, asset),
            asset=asset,
            amount=self.draw_amount(data, src, asset),
            hashlock=hashlock,
            finish_after_ms=None if finish_after is None else max(0, finish_after),
            cancel_after_ms=cancel_after,
        )

    def draw_escrow_finish(self, data: st.DataObject, src: str) -> EscrowFinish:
        due = [
            i
            for i, e in sorted(self.ref.state.escrows.items())
            if (e.finish_after_ms or 0) <= self.now < (e.cancel_after_ms or self.now + 1)
        ]
        escrow_id = self.draw_escrow_id(data, due)
        escrow = self.ref.state.escrows.get(escrow_id)
        right = None if escrow is None or escrow.hashlock is None else LOCK_SECRET[escrow.hashlock]
        preimage = right
        if one_in(data, 3, "wrong preimage"):
            wrong = SECRETS if right is None else (None, *SECRETS)
            preimage = data.draw(st.sampled_from(wrong), "preimage")
        return EscrowFinish(escrow_id=escrow_id, preimage=preimage)

    def draw_escrow_cancel(self, data: st.DataObject, src: str) -> EscrowCancel:
        due = [
            i
            for i, e in sorted(self.ref.state.escrows.items())
            if e.cancel_after_ms is not None and e.cancel_after_ms <= self.now
        ]
        return EscrowCancel(escrow_id=self.draw_escrow_id(data, due))

    def draw_code(self, data: st.DataObject, src: str, flag: str) -> str:
        """Mostly the code of an asset `src` issues with `flag` set, if there is one."""
        issued = [a for a in self.assets() if a.issuer == key(src).address]
        flagged = [a.code for a in issued if getattr(self.ref.state.assets[a], flag)]
        if flagged and not one_in(data, 4, "any code"):
            return data.draw(st.sampled_from(flagged), "code")
        return data.draw(st.sampled_from([a.code for a in issued] + ["XYZ", "USD"]), "code")

    def draw_holder(self, data: st.DataObject, src: str, code: str) -> str:
        """Mostly an account holding the asset; sometimes one without a holding of it, any
        account, the issuer, or a ghost."""
        asset = Asset(code, key(src).address)
        holders = [n for n in self.account_names() if self.balance(n, asset) > 0]
        blocked = [n for n in holders if self.blocked(n, asset)]
        if blocked and one_in(data, 3, "blocked holder"):
            return data.draw(st.sampled_from(blocked), "holder")  # frozen *and* unauthorised
        strangers = [
            n
            for n in self.account_names()
            if n != src and asset not in self.ref.state.accounts[key(n).address].holdings
        ]
        if strangers and one_in(data, 3, "holder without a holding"):
            return data.draw(st.sampled_from(strangers), "holder")  # a holding appears, or not
        if holders and not one_in(data, 3, "any holder"):
            return data.draw(st.sampled_from(holders), "holder")
        if one_in(data, 10, "issuer as holder"):
            return src
        return self.draw_account(data, "holder")

    def draw_set_holder(self, data: st.DataObject, src: str) -> SetHolder:
        action = data.draw(st.sampled_from(HOLDER_ACTIONS), "action")
        authorising = action in (HolderAction.AUTHORISE, HolderAction.REVOKE)
        flag = "auth_required" if authorising else "freezable"
        code = self.draw_code(data, src, flag)
        holder = self.draw_holder(data, src, code)
        return SetHolder(holder=key(holder).address, code=code, action=action)

    def draw_clawback(self, data: st.DataObject, src: str) -> Clawback:
        code = self.draw_code(data, src, "clawback")
        holder = self.draw_holder(data, src, code)
        amount = self.draw_amount(data, holder, Asset(code, key(src).address))
        return Clawback(holder=key(holder).address, code=code, amount=amount)

    def draw_set_signers(self, data: st.DataObject, src: str) -> SetSigners:
        names = data.draw(st.lists(st.sampled_from(SIGNER_POOL), max_size=4, unique=True))
        if not names and not one_in(data, 4, "no signers"):
            names = [src]
        signers = sorted(
            (Signer(public_key=key(n).public_key, weight=data.draw(WEIGHTS)) for n in names),
            key=lambda s: s.public_key,
        )
        if one_in(data, 12, "unsorted signers"):
            signers.reverse()
        total = sum(s.weight for s in signers)
        threshold = data.draw(st.integers(1, max(1, total)), "threshold")
        if one_in(data, 4, "unreachable threshold"):
            threshold = data.draw(st.sampled_from((total + 1, total + 1, 0)), "threshold")
        return SetSigners(signers=tuple(signers), threshold=threshold)

    def draw_issue_asset(self, data: st.DataObject, src: str) -> IssueAsset:
        return IssueAsset(
            code=data.draw(st.sampled_from(ISSUE_CODES), "code"),
            decimals=data.draw(st.integers(0, 6), "decimals"),
            auth_required=data.draw(st.booleans(), "auth_required"),
            freezable=data.draw(st.booleans(), "freezable"),
            clawback=data.draw(st.booleans(), "clawback"),
        )

    def draw_open_account(self, data: st.DataObject, src: str) -> OpenAccount:
        name = data.draw(st.sampled_from((*NEW_ACCOUNTS, "alice")), "new account")
        return OpenAccount(public_key=key(name).public_key)

    # --- signing ---

    def enough_signers(self, data: st.DataObject, body: Transaction) -> list[str]:
        """Keys that bring every existing source to its threshold, in a random order."""
        chosen: list[str] = []
        for address in body.sources():
            acct = self.ref.state.accounts.get(address)
            if acct is None:
                continue
            candidates = data.draw(st.permutations(sorted(acct.signers)), "signer order")
            weight = sum(w for pk, w in acct.signers.items() if NAME_OF_KEY[pk] in chosen)
            for pk in candidates:
                if weight >= acct.threshold:
                    break
                if NAME_OF_KEY[pk] not in chosen:
                    chosen.append(NAME_OF_KEY[pk])
                    weight += acct.signers[pk]
        return chosen

    def sign(self, data: st.DataObject, body: Transaction) -> SignedTransaction:
        """Signs `body` with enough keys, or now and then with a flaw in the signatures."""
        names = self.enough_signers(data, body)
        flaw = "none"
        if one_in(data, 8, "flawed signatures"):
            flaws = ("drop", "extra", "wrong key", "flip", "other message", "unsigned")
            flaw = data.draw(st.sampled_from(flaws), "signature flaw")
        event(f"signature flaw: {flaw}")
        if flaw == "drop" and names:
            names.remove(data.draw(st.sampled_from(names), "dropped"))
        elif flaw == "extra":
            extra = data.draw(st.sampled_from(ALL_NAMES), "extra signer")
            names = names if extra in names else [*names, extra]
        elif flaw == "wrong key" and names:
            names[data.draw(st.integers(0, len(names) - 1))] = "mallory"
            names = list(dict.fromkeys(names))
        elif flaw == "unsigned":
            names = []
        stx = body.sign(*(key(n) for n in names))
        sigs = list(stx.signatures)
        if flaw in ("flip", "other message") and sigs:
            i = data.draw(st.integers(0, len(sigs) - 1), "bad signature")
            if flaw == "flip":
                bad = bytearray(sigs[i].signature)
                bad[data.draw(st.integers(0, 63), "byte")] ^= 1 << data.draw(st.integers(0, 7))
                sig = bytes(bad)
            else:
                sig = key(NAME_OF_KEY[sigs[i].public_key]).sign(hashlib.sha256(b"other").digest())
            sigs[i] = Signature(public_key=sigs[i].public_key, signature=sig)
        return SignedTransaction(tx=body, signatures=tuple(sigs), tx_id=stx.tx_id, body=stx.body)

    # --- rules ---

    @rule(ms=st.integers(0, 50) | st.integers(0, 2_000))
    def time_passes(self, ms: int) -> None:
        self.now += ms
        self.height += 1

    def escrow_times_ahead(self) -> list[int]:
        return sorted(
            t
            for e in self.ref.state.escrows.values()
            for t in (e.finish_after_ms, e.cancel_after_ms)
            if t is not None and t >= self.now
        )

    @precondition(lambda self: bool(self.escrow_times_ahead()))
    @rule(data=st.data())
    def time_reaches_an_escrow_time(self, data: st.DataObject) -> None:
        """Jumps to (or a millisecond around) an open escrow's finish or cancel time."""
        target = data.draw(st.sampled_from(self.escrow_times_ahead()), "escrow time")
        self.now = max(self.now, target + data.draw(st.sampled_from((0, 0, -1, 1)), "offset"))
        self.height += 1  # block time never goes back

    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        """A transaction: mostly random, sometimes one of the scenarios below."""
        scenarios = ["random"] * 6 + ["lock funds"] * 2 + ["revoke and freeze"]
        if self.ref.state.escrows:
            scenarios += ["settle escrow"] * 2
        scenario = data.draw(st.sampled_from(scenarios), "scenario")
        event(f"scenario: {scenario}")
        if scenario == "random":
            source = self.draw_account(data, "tx source")
            n_ops = data.draw(st.sampled_from((1, 1, 1, 1, 2, 2, 3, 4)), "op count")
            ops = [self.draw_operation(data, source) for _ in range(n_ops)]
        elif scenario == "lock funds":
            source, ops = self.lock_funds(data)
        elif scenario == "settle escrow":
            source, ops = self.settle_escrow(data)
        else:
            source, ops = self.revoke_and_freeze(data)
        self.submit_ops(data, source, ops)

    def lock_funds(self, data: st.DataObject) -> tuple[str, list[Operation]]:
        """A funded account or an issuer creates an escrow (so that there is one to settle)."""
        funded = [n for n in self.account_names() if any(self.balance(n, a) for a in self.assets())]
        source = data.draw(st.sampled_from(funded + self.issuers()), "creator")
        return source, [self.draw_escrow_create(data, source)]

    def settle_escrow(self, data: st.DataObject) -> tuple[str, list[Operation]]:
        """Anyone finishes or cancels an open escrow, early, on time or late."""
        source = self.draw_account(data, "settler")
        if data.draw(st.booleans(), "cancel"):
            return source, [self.draw_escrow_cancel(data, source)]
        return source, [self.draw_escrow_finish(data, source)]

    def revoke_and_freeze(self, data: st.DataObject) -> tuple[str, list[Operation]]:
        """Both flags on one funded holding, so that which check comes first shows."""
        holdings = [
            (name, asset)
            for asset, info in sorted(self.ref.state.assets.items())
            if info.auth_required and info.freezable
            for name in self.account_names()
            if self.balance(name, asset) > 0
        ] or [("alice", UNKNOWN_ASSETS[0])]
        holder, asset = data.draw(st.sampled_from(holdings), "holding")
        ops: list[Operation] = [
            SetHolder(holder=key(holder).address, code=asset.code, action=action)
            for action in (HolderAction.REVOKE, HolderAction.FREEZE)
        ]
        return NAME_OF_ADDRESS[asset.issuer], ops

    def submit_ops(self, data: st.DataObject, source: str, operations: list[Operation]) -> None:
        """Wraps `operations` in a transaction from `source` and applies it to both ledgers;
        now and then with a wrong sequence, chain or validity window, or flawed signatures."""
        acct = self.ref.state.accounts.get(key(source).address)
        next_sequence = 1 if acct is None else acct.sequence + 1
        sequence = next_sequence
        if one_in(data, 16, "wrong sequence"):
            wrong = (max(1, next_sequence - 1), next_sequence + 1, next_sequence + 7)
            sequence = data.draw(st.sampled_from(wrong), "sequence")
        window = "open"
        if one_in(data, 12, "odd window"):
            odd = ("exact", "exact", "expired", "not yet", "wrong chain")
            window = data.draw(st.sampled_from(odd), "window")
        not_before, not_after, chain_id = 0, self.now + 3_600_000, CHAIN
        if window == "exact":
            not_before = not_after = self.now  # both ends are inclusive
        elif window == "expired":
            not_before, not_after = self.now - 10_000, self.now - 1
        elif window == "not yet":
            not_before = self.now + 1
        elif window == "wrong chain":
            chain_id = "corridor-other"
        body = Transaction(
            chain_id=chain_id,
            source=key(source).address,
            sequence=sequence,
            not_before_ms=not_before,
            not_after_ms=not_after,
            operations=tuple(operations),
            memo=data.draw(st.binary(max_size=4), "memo"),
        )
        self.apply(self.sign(data, body))

    def apply(self, stx: SignedTransaction) -> None:
        signed_by = [NAME_OF_KEY[s.public_key] for s in stx.signatures]
        note(f"t={self.now} {stx.tx!r} signed by {signed_by}")
        ctx = ApplyContext(chain_id=CHAIN, height=self.height, time_ms=self.now)
        new_state, outcome = apply_tx(self.real, stx, ctx)
        expected = self.ref.apply(stx, ctx)
        if isinstance(outcome, Rejection):
            event(f"rejected: {outcome.code.name} at {'tx' if outcome.op_index < 0 else 'op'}")
            assert new_state is self.real, "a rejection must leave the state as it was"
            assert Rejected(outcome.code, outcome.op_index) == expected, (outcome, expected)
            return
        event(f"accepted {len(outcome.op_results)} ops")
        got = Accepted(tuple((r.delivered, r.created_id) for r in outcome.op_results))
        assert got == expected, (got, expected)
        assert outcome.tx_id == stx.tx_id
        assert outcome.code == 0
        assert isinstance(new_state, Overlay)
        assert check_transition(self.real, new_state) == []
        self.real.commit(new_state)
        for op, (_, created_id) in zip(stx.tx.operations, got.op_results, strict=True):
            if isinstance(op, EscrowCreate):
                self.escrow_ids.append(created_id)

    @invariant()
    def same_state(self) -> None:
        differences = [
            _first_difference(self.real.accounts, self.ref.account_records(), "account"),
            _first_difference(self.real.assets, self.ref.asset_records(), "asset"),
            _first_difference(self.real.escrows, self.ref.escrow_records(), "escrow"),
        ]
        assert not any(differences), "\n".join(d for d in differences if d)
        assert check_state(self.real) == []


LedgerModel.TestCase.settings = settings(
    max_examples=1_000 if LONG else 200,
    stateful_step_count=100 if LONG else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestLedgerModel = LedgerModel.TestCase
