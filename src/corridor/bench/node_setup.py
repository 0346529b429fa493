"""`corridor bench node` (and the network bench): the genesis and homes it runs on (senders and
receivers funded in the genesis, deterministic keys) and the payments it signs beforehand on
every core; none of it is timed."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from corridor.bench import ledger_bench
from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import Payment, Transaction
from corridor.node.home import Home, write_key

CHAIN_ID = "corridor-bench-node"
SENDERS = 2_000  # per phase: distinct accounts, so sequences never serialise a block
# Payees that never pay. Were the senders paid too, the mempool would re-validate each sender's
# ready run after every block (a received payment changes the account unpredictably) and a
# block would hold one tx per sender: the shape of many payers paying a few merchants instead.
RECEIVERS = 2_000
INITIAL_BALANCE_MINOR = 10**12
TX_LIFETIME_MS = 3_600_000
SIGN_CHUNK_ROUNDS = 2


def _digest(*parts: bytes) -> bytes:
    return hashlib.sha256(b"corridor-bench-node:" + b":".join(parts)).digest()


# --- homes and genesis ----------------------------------------------------------------------


@lru_cache(maxsize=4)
def _sender_keys(first: int, count: int) -> tuple[KeyPair, ...]:
    """Senders `first..first+count-1`, derived from their index (cached per process)."""
    return tuple(
        KeyPair.from_seed(_digest(b"sender", i.to_bytes(8, "big")))
        for i in range(first, first + count)
    )


def _issuer() -> KeyPair:
    return KeyPair.from_seed(_digest(b"issuer"))


def _receiver_address(i: int) -> bytes:
    return keys.address_of(ledger_bench.placeholder_key(i))


def genesis_doc(
    validators: Sequence[bytes],
    *,
    senders: int,
    receivers: int,
    placeholders: int,
    genesis_time_ms: int,
) -> dict[str, Any]:
    """A genesis with `validators` (public keys, power 1 each), the issuer of USD, `senders`
    funded and authorised sender accounts (indices 0..senders-1), `receivers` authorised payees
    with nothing (placeholder keys 0..receivers-1) and `placeholders` bare accounts (the
    placeholder keys after them)."""
    issuer = _issuer()
    issuer_text = keys.encode_address(issuer.address)
    sender_keys = [kp.public_key for kp in _sender_keys(0, senders)] if senders else []
    accounts = [issuer.public_key, *sender_keys]
    accounts.extend(ledger_bench.placeholder_key(i) for i in range(receivers + placeholders))
    return {
        "chain_id": CHAIN_ID,
        "genesis_time_ms": genesis_time_ms,
        "validators": [{"public_key": keys.encode_public_key(pk), "power": 1} for pk in validators],
        "accounts": [{"public_key": keys.encode_public_key(pk)} for pk in accounts],
        "assets": [
            {
                "code": "USD",
                "issuer": issuer_text,
                "decimals": 2,
                "auth_required": True,
                "freezable": True,
                "clawback": True,
            }
        ],
        "balances": [
            {
                "holder": keys.encode_address(keys.address_of(pk)),
                "code": "USD",
                "issuer": issuer_text,
                "amount": amount,
            }
            for pk, amount in itertools.chain(
                ((pk, INITIAL_BALANCE_MINOR) for pk in sender_keys),
                ((ledger_bench.placeholder_key(i), 0) for i in range(receivers)),
            )
        ],
    }


def write_home(
    path: Path, *, senders: int, receivers: int, placeholders: int, genesis_time_ms: int
) -> Home:
    """A one-validator home on `genesis_doc` (see there for the accounts)."""
    home = Home(path)
    validator = KeyPair.from_seed(_digest(b"validator"))
    write_key(home.key_path, validator)
    doc = genesis_doc(
        [validator.public_key],
        senders=senders,
        receivers=receivers,
        placeholders=placeholders,
        genesis_time_ms=genesis_time_ms,
    )
    home.genesis_path.write_text(json.dumps(doc, separators=(",", ":")))
    return home


# --- signing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _SignJob:
    first_sender: int
    senders: int
    receivers: int
    rounds: range  # sequence numbers
    not_after_ms: int


def _sign_job(job: _SignJob) -> list[tuple[str, str]]:
    """(tx id hex, encoding hex) of one payment per sender per round, round by round.

    Sender k pays receiver k (modulo their number) in every round.
    """
    kps = _sender_keys(job.first_sender, job.senders)
    receivers = [_receiver_address(i) for i in range(job.receivers)]
    usd = Asset("USD", _issuer().address)
    out = []
    for sequence in job.rounds:
        for k, kp in enumerate(kps):
            tx = Transaction(
                chain_id=CHAIN_ID,
                source=kp.address,
                sequence=sequence,
                not_before_ms=0,
                not_after_ms=job.not_after_ms,
                operations=(
                    Payment(destination=receivers[k % len(receivers)], asset=usd, amount=1),
                ),
            )
            stx = tx.sign(kp)
            out.append((stx.tx_id.hex(), stx.encode().hex()))
    return out


def sign_payments(
    pool: ProcessPoolExecutor, first_sender: int, senders: int, rounds: int
) -> list[tuple[str, str]]:
    """`rounds` payments from each of `senders` senders, in round (= sequence) order."""
    not_after_ms = int(time.time() * 1000) + TX_LIFETIME_MS
    jobs = [
        _SignJob(
            first_sender=first_sender,
            senders=senders,
            receivers=RECEIVERS,
            rounds=range(lo, min(lo + SIGN_CHUNK_ROUNDS, rounds + 1)),
            not_after_ms=not_after_ms,
        )
        for lo in range(1, rounds + 1, SIGN_CHUNK_ROUNDS)
    ]
    return [item for chunk in pool.map(_sign_job, jobs) for item in chunk]
