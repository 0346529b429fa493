"""`corridor bench ledger --quick` runs end to end and writes every figure.

Timings depend on the machine and its load: no test here asserts a timing or a ratio.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.bench.parallel import VERIFY_CHUNK_TXS, ParallelVerifier
from corridor.bench.report import Row, Target, render_table, write_json_atomic
from corridor.cli.main import app
from corridor.ledger.assets import Asset
from corridor.ledger.keys import KeyPair
from corridor.ledger.rules.v1 import verify_signatures
from corridor.ledger.tx import Payment, Signature, SignedTransaction, Transaction

FIGURES = (
    "verify_per_s",
    "apply_signed_per_s",
    "apply_ratio",
    "apply_parallel_per_s",
    "apply_parallel_ratio",
    "state_root_per_block_ms_100k",
    "state_root_per_block_ms_1m",
    "state_root_growth",
)
CANDIDATES = ("secp256k1_bip340_coincurve", "ed25519_libsodium", "ecdsa_secp256k1_coincurve")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow  # 13-50 s on a shared 2-core machine (it loads every core)
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out" / "bench-ledger.json"
    result = CliRunner().invoke(app, ["bench", "ledger", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    for key in FIGURES:
        assert _is_number(document[key]), key
        assert document[key] > 0, key
        assert key in result.stdout  # the table names every figure
    assert document["quick"] is True
    assert set(document["verify_candidates"]) == set(CANDIDATES)
    for name, rate in document["verify_candidates"].items():
        assert rate is None or _is_number(rate), name  # None: PyNaCl is not installed
    assert document["verify_candidates"]["secp256k1_bip340_coincurve"] is not None
    assert document["machine"]["cpus"] >= 1
    assert isinstance(document["machine"]["python"], str)
    assert set(document["targets"]) == {"apply_ratio", "apply_parallel_ratio", "state_root_growth"}
    for target in document["targets"].values():
        assert target["op"] in (">=", "<")
        assert isinstance(target["met"], bool)
    assert list(tmp_path.joinpath("out").iterdir()) == [out]  # no temporary file left behind


def _payment(kp: KeyPair, sequence: int) -> Transaction:
    return Transaction(
        chain_id="corridor-test",
        source=kp.address,
        sequence=sequence,
        not_before_ms=0,
        not_after_ms=1,
        operations=(Payment(destination=bytes(20), asset=Asset("USD", bytes(20)), amount=1),),
    )


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_parallel_verifier_finds_bad_signatures(processes: bool) -> None:
    kp = KeyPair.from_seed(hashlib.sha256(b"corridor-test-parallel").digest())
    good = [_payment(kp, sequence).sign(kp) for sequence in range(1, VERIFY_CHUNK_TXS + 3)]
    # A real signature, but of another transaction.
    forged = SignedTransaction(
        tx=_payment(kp, 10_000),
        signatures=(
            Signature(public_key=kp.public_key, signature=good[0].signatures[0].signature),
        ),
        tx_id=_payment(kp, 10_000).tx_id(),
        body=_payment(kp, 10_000).encode(),
    )
    short = dataclasses.replace(
        good[1], signatures=(Signature(public_key=kp.public_key, signature=bytes(63)),)
    )
    other = KeyPair.from_seed(hashlib.sha256(b"corridor-test-parallel-2").digest())
    both = dataclasses.replace(  # two signers, both valid
        good[2], signatures=(*good[2].signatures, *good[2].tx.sign(other).signatures)
    )
    second_bad = dataclasses.replace(both, signatures=(both.signatures[0], forged.signatures[0]))
    unsigned = dataclasses.replace(good[3], signatures=())  # verify_signatures: vacuously true
    odd = [forged, short, both, second_bad, unsigned]
    stxs = [*good[:5], *odd, *good[5:]]  # more than one chunk
    expected = [verify_signatures(stx) for stx in stxs]
    assert expected.count(False) == 3
    with ParallelVerifier(2, processes=processes) as verifier:
        ids = {s.tx_id for s, ok in zip(stxs, expected, strict=True) if ok}
        assert verifier.verify_batch(stxs) == ids
        flags = list(verifier.verified_in_order(iter(stxs)))
    assert [stx for stx, _ in flags] == stxs
    assert [ok for _, ok in flags] == expected


def test_the_consumer_verifies_queued_chunks_itself_while_the_workers_are_busy() -> None:
    """With its one worker blocked, every chunk is verified by the consuming thread (each
    once: its queued task is cancelled), and the verdicts are the same."""
    kp = KeyPair.from_seed(hashlib.sha256(b"corridor-test-steal").digest())
    stxs = [_payment(kp, sequence).sign(kp) for sequence in range(1, 2 * VERIFY_CHUNK_TXS + 2)]
    bad = stxs[VERIFY_CHUNK_TXS + 1]
    sig = bad.signatures[0]
    stxs[VERIFY_CHUNK_TXS + 1] = SignedTransaction(
        tx=bad.tx, tx_id=bad.tx_id, body=bad.body,
        signatures=(Signature(public_key=sig.public_key,
                              signature=bytes([sig.signature[0] ^ 1]) + sig.signature[1:]),))
    release = threading.Event()
    with ParallelVerifier(1, processes=False) as verifier:
        blocker = verifier._pool.submit(release.wait, 30)
        try:
            flags = list(verifier.verified_in_order(iter(stxs)))
        finally:
            release.set()
        assert blocker.result() is True
    assert [stx for stx, _ in flags] == stxs
    assert [ok for _, ok in flags] == [i != VERIFY_CHUNK_TXS + 1 for i in range(len(stxs))]


def test_table_and_atomic_json(tmp_path: Path) -> None:
    rows = [
        Row(name="a_ratio", value=0.5, target=Target(op=">=", value=0.8)),
        Row(name="b_per_s", value=12_345.6, unit="/s", note="one core"),
        Row(name="c_missing", value=None),
    ]
    lines = render_table(rows, "title").splitlines()
    assert lines[0] == "title"
    assert "NO" in lines[3] and "12,346 /s" in lines[4] and "n/a" in lines[5]
    width = len("c_missing")
    for row, line in zip(rows, lines[3:], strict=True):
        assert line.startswith(row.name.ljust(width) + "  ")  # the name column is aligned
    path = tmp_path / "figures.json"
    write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(ValueError):
        write_json_atomic(path, {"x": math.nan})
    assert json.loads(path.read_text()) == {"x": 1}  # the old file stays whole
    assert [p.name for p in tmp_path.iterdir()] == ["figures.json"]
