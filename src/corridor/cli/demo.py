"""`corridor demo ledger`: a readable scenario run through the real ledger core, block by block.

Two currencies are issued; a cross-currency payment settles as one atomic two-leg transaction;
a multi-signature treasury needs two of three signers; one escrow is finished by its preimage
and one cancelled after its timeout; a frozen holder is refused. Every block is validated as
a follower would, committed by a signed commit certificate, and proven to a light client.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

import typer
from rich.console import Console
from rich.table import Table

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.block import (
    PRECOMMIT,
    Block,
    BlockHeader,
    Commit,
    CommitSig,
    verify_commit,
    vote_sign_bytes,
)
from corridor.ledger.chain import make_block, select_txs, validate_block
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import Rejection
from corridor.ledger.genesis import Genesis, genesis_from_document
from corridor.ledger.invariants import check_state
from corridor.ledger.keys import KeyPair
from corridor.ledger.proofs import prove_account, prove_tx, verify_account_proof, verify_tx_proof
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import (
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    HolderAction,
    IssueAsset,
    Operation,
    Payment,
    SetHolder,
    SetSigners,
    SignedTransaction,
    Signer,
    Transaction,
)

app = typer.Typer(help="Readable demonstrations of Corridor's parts.", no_args_is_help=True)
CHAIN = "corridor-demo"
T0 = 1_767_225_600_000
NAMES = ("usd-bank", "cny-bank", "treasury", "alice", "bob", "carol", "ops1", "ops2", "ops3")


def demo_key(name: str) -> KeyPair:
    """Deterministic demo keys (never use name-derived keys for real money)."""
    return KeyPair.from_seed(hashlib.sha256(b"corridor-demo:" + name.encode()).digest())


@dataclass
class DemoChain:
    """A one-validator chain driven in-process: propose, validate, commit, like a node."""

    genesis: Genesis
    console: Console
    validator: KeyPair = field(default_factory=lambda: demo_key("validator"))
    tree: StateTree = field(init=False)
    header: BlockHeader = field(init=False)
    last_commit: Commit | None = None
    time_ms: int = T0
    sequences: dict[str, int] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tree = self.genesis.tree()
        self.header = self.genesis.header(self.tree)

    def tx(self, source: str, *ops: Operation, signers: tuple[str, ...] = ()) -> SignedTransaction:
        seq = self.sequences.get(source, 0) + 1
        body = Transaction(
            chain_id=CHAIN,
            source=demo_key(source).address,
            sequence=seq,
            not_before_ms=0,
            not_after_ms=self.time_ms + 60_000,
            operations=ops,
        )
        return body.sign(*(demo_key(s) for s in (signers or (source,))))

    def block(
        self, title: str, txs: list[tuple[str, SignedTransaction]], advance_ms: int = 1000
    ) -> None:
        self.time_ms += advance_ms
        ctx = ApplyContext(chain_id=CHAIN, height=self.header.height + 1, time_ms=self.time_ms)
        sel = select_txs(self.genesis.state, self.tree, [t for _, t in txs], ctx)
        block = make_block(
            self.header,
            sel.execution,
            time_ms=self.time_ms,
            validators=self.genesis.validators,
            proposer_key=self.validator.public_key,
            last_commit=self.last_commit,
        )
        # A follower re-executes and checks every root before accepting.
        execution = validate_block(
            self.genesis.state,
            self.tree,
            Block.decode(block.encode()),
            self.header,
            self.genesis.validators,
        )
        assert not isinstance(execution, Rejection), execution
        commit = self._sign_commit(block)
        self.genesis.state.commit(execution.state)
        self.tree.update(execution.tree_updates)
        assert self.tree.root == block.header.state_root
        assert check_state(self.genesis.state) == [], "ledger invariant violated"
        self.header, self.last_commit = block.header, commit
        self.blocks.append(block)
        # By object: two differently signed versions of one body share a tx_id.
        rejected = {id(t): r for t, r in sel.rejected}
        self.console.print(f"\n[bold]Block {block.header.height}[/bold] — {title}")
        for label, t in txs:
            if id(t) in rejected:
                self.console.print(f"  [red]✗ rejected[/red] {label}: {rejected[id(t)]}")
            else:
                self.sequences[_name_of(t.tx.source)] = t.tx.sequence
                self.console.print(
                    f"  [green]✓ committed[/green] {label}  tx {t.tx_id.hex()[:16]}…"
                )

    def _sign_commit(self, block: Block) -> Commit:
        msg = vote_sign_bytes(CHAIN, PRECOMMIT, block.header.height, 0, block.hash())
        commit = Commit(
            block.header.height,
            0,
            block.hash(),
            (CommitSig(self.validator.public_key, self.validator.sign(msg)),),
        )
        refused = verify_commit(
            CHAIN, self.genesis.validators, commit, block.hash(), block.header.height
        )
        assert refused is None, refused
        return commit


def _name_of(address: bytes) -> str:
    return next(n for n in NAMES if demo_key(n).address == address)


def _genesis() -> Genesis:
    return genesis_from_document(
        {
            "chain_id": CHAIN,
            "genesis_time_ms": T0,
            "validators": [
                {"public_key": keys.encode_public_key(demo_key("validator").public_key), "power": 1}
            ],
            "accounts": [
                {"public_key": keys.encode_public_key(demo_key(n).public_key)} for n in NAMES
            ],
        }
    )


def _money(minor: int, decimals: int = 2) -> str:
    return f"{Decimal(minor).scaleb(-decimals):,.{decimals}f}"


@app.command("ledger")
def ledger_demo() -> None:
    """Issue USD and CNY, pay across currencies atomically, multi-sign, escrow, freeze."""
    console = Console()
    chain = DemoChain(_genesis(), console)
    addr = {n: demo_key(n).address for n in NAMES}
    usd, cny = Asset("USD", addr["usd-bank"]), Asset("CNY", addr["cny-bank"])

    def authorise(bank: str, code: str, *holders: str) -> SignedTransaction:
        return chain.tx(
            bank,
            *(SetHolder(holder=addr[h], code=code, action=HolderAction.AUTHORISE) for h in holders),
        )

    chain.block(
        "issuers declare USD and CNY (KYC-gated, freezable, clawback)",
        [
            (
                "usd-bank issues USD",
                chain.tx(
                    "usd-bank",
                    IssueAsset(
                        code="USD", decimals=2, auth_required=True, freezable=True, clawback=True
                    ),
                ),
            ),
            (
                "cny-bank issues CNY",
                chain.tx(
                    "cny-bank",
                    IssueAsset(
                        code="CNY", decimals=2, auth_required=True, freezable=True, clawback=True
                    ),
                ),
            ),
        ],
    )
    chain.block(
        "holders are authorised (on-chain face of KYC) and funded by minting",
        [
            ("authorise USD holders", authorise("usd-bank", "USD", "treasury", "alice", "carol")),
            ("authorise CNY holders", authorise("cny-bank", "CNY", "treasury", "bob")),
        ],
    )
    chain.block(
        "deposits: the issuers mint",
        [
            (
                "mint 1,000.00 USD to alice",
                chain.tx(
                    "usd-bank",
                    Payment(destination=addr["alice"], asset=usd, amount=100_000),
                    Payment(destination=addr["carol"], asset=usd, amount=5_000),
                ),
            ),
            (
                "mint 50,000.00 CNY to the treasury",
                chain.tx(
                    "cny-bank", Payment(destination=addr["treasury"], asset=cny, amount=5_000_000)
                ),
            ),
        ],
    )
    swap = chain.tx(
        "alice",
        Payment(destination=addr["treasury"], asset=usd, amount=10_000),
        Payment(destination=addr["bob"], asset=cny, amount=72_000, source=addr["treasury"]),
        signers=("alice", "treasury"),
    )
    chain.block(
        "cross-border payment: alice pays 100.00 USD, bob receives 720.00 CNY, atomically",
        [("two-leg payment (payment versus payment)", swap)],
    )
    ops = tuple(
        sorted(
            (Signer(public_key=demo_key(n).public_key, weight=1) for n in ("ops1", "ops2", "ops3")),
            key=lambda s: s.public_key,
        )
    )
    chain.block(
        "the treasury becomes a 2-of-3 multi-signature account",
        [
            (
                "set signers ops1, ops2, ops3, threshold 2",
                chain.tx("treasury", SetSigners(signers=ops, threshold=2)),
            )
        ],
    )
    one = Payment(destination=addr["bob"], asset=cny, amount=1_000)
    chain.block(
        "treasury payouts need two signatures",
        [
            ("payout signed by ops1 only", chain.tx("treasury", one, signers=("ops1",))),
            ("payout signed by ops1 + ops3", chain.tx("treasury", one, signers=("ops1", "ops3"))),
        ],
    )
    secret = b"delivery confirmed #77"
    lock = EscrowCreate(
        destination=addr["bob"],
        asset=usd,
        amount=5_000,
        hashlock=hashlib.sha256(secret).digest(),
        cancel_after_ms=chain.time_ms + 3_600_000,
    )
    # Carol's escrow needs a secret nobody reveals; after 5 s it can only be cancelled.
    timed = EscrowCreate(
        destination=addr["carol"],
        asset=usd,
        amount=2_000,
        hashlock=hashlib.sha256(b"never revealed").digest(),
        cancel_after_ms=chain.time_ms + 5_000,
    )
    hash_tx = chain.tx("alice", lock, timed)
    chain.block(
        "alice escrows 50.00 USD for bob and 20.00 USD for carol (hash + time locks)",
        [("two escrows in one transaction", hash_tx)],
    )
    from corridor.ledger.rules.v1 import escrow_id_of

    hash_escrow, time_escrow = escrow_id_of(hash_tx.tx_id, 0), escrow_id_of(hash_tx.tx_id, 1)
    chain.block(
        "authorise bob for USD, then bob reveals the preimage",
        [
            ("authorise bob for USD", authorise("usd-bank", "USD", "bob")),
            (
                "finish with a wrong preimage",
                chain.tx("bob", EscrowFinish(escrow_id=hash_escrow, preimage=b"guess")),
            ),
        ],
    )
    chain.block(
        "bob finishes the hash-locked escrow",
        [
            (
                "finish with the preimage",
                chain.tx("bob", EscrowFinish(escrow_id=hash_escrow, preimage=secret)),
            )
        ],
    )
    chain.block(
        "6 s later carol's escrow has passed cancel_after and returns to alice",
        [("cancel carol's escrow", chain.tx("alice", EscrowCancel(escrow_id=time_escrow)))],
        advance_ms=6_000,
    )
    chain.block(
        "the USD issuer freezes carol; her payment is refused",
        [
            (
                "freeze carol's USD",
                chain.tx(
                    "usd-bank",
                    SetHolder(holder=addr["carol"], code="USD", action=HolderAction.FREEZE),
                ),
            ),
        ],
    )
    chain.block(
        "a frozen holder cannot pay",
        [
            (
                "carol pays alice 10.00 USD",
                chain.tx("carol", Payment(destination=addr["alice"], asset=usd, amount=1_000)),
            ),
        ],
    )
    _print_balances(console, chain, (usd, cny))
    _prove(console, chain, swap)


def _print_balances(console: Console, chain: DemoChain, assets: tuple[Asset, ...]) -> None:
    table = Table(title="Balances after the last block")
    table.add_column("account")
    for a in assets:
        table.add_column(a.code, justify="right")
    for name in ("treasury", "alice", "bob", "carol"):
        acct = chain.genesis.state.account(demo_key(name).address)
        assert acct is not None
        table.add_row(name, *(_money(acct.balance(a)) for a in assets))
    for a in assets:
        info = chain.genesis.state.asset(a)
        assert info is not None
        console.print(f"{a.code} outstanding supply: {_money(info.supply)}")
    console.print(table)


def _prove(console: Console, chain: DemoChain, swap: SignedTransaction) -> None:
    block = next(b for b in chain.blocks if any(t.tx_id == swap.tx_id for t in b.txs))
    index = next(i for i, t in enumerate(block.txs) if t.tx_id == swap.tx_id)
    proven = verify_tx_proof(block.header, prove_tx(block, index))
    assert proven is not None and proven.tx_id == swap.tx_id
    console.print(
        f"\nLight client: the two-leg payment is in block {block.header.height} "
        f"(Merkle path of {len(prove_tx(block, index).path)} hashes) — verified"
    )
    for name in ("alice", "bob"):
        ok, acct = verify_account_proof(
            chain.header, prove_account(chain.genesis.state, chain.tree, demo_key(name).address)
        )
        assert ok and acct is not None
        console.print(
            f"Light client: {name}'s account state at height {chain.header.height} "
            f"matches state root {chain.header.state_root.hex()[:16]}… — verified"
        )
    console.print("Ledger invariants held after every block (supply = holdings + escrows).")


if __name__ == "__main__":
    typer.run(ledger_demo)
