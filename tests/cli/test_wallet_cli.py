"""`corridor keys|genesis|tx|account|block`: offline commands, then against a real node."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from corridor.cli.common import format_amount, format_money, parse_amount, parse_time_ms
from corridor.cli.main import app
from corridor.ledger import keys
from corridor.ledger.genesis import parse_genesis
from corridor.node.home import init_demo_home, read_key
from tests.node.conftest import token_headers

runner = CliRunner()


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# --- keys ------------------------------------------------------------------------------------


def test_keys_round_trip(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    code, out, _ = run("keys", "new", "carol", "--home", home)
    assert code == 0, out
    kp = read_key(tmp_path / "home" / "wallets" / "carol.json")
    address = keys.encode_address(kp.address)
    seed = keys.encode_seed(kp.seed)
    assert address in out and keys.encode_public_key(kp.public_key) in out
    assert seed not in out
    assert (tmp_path / "home" / "wallets" / "carol.json").stat().st_mode & 0o077 == 0

    code, out, _ = run("keys", "new", "carol", "--home", home)
    assert code == 1

    code, out, _ = run("keys", "show", "carol", "--home", home)
    assert code == 0 and address in out and seed not in out
    code, out, _ = run("keys", "show", str(tmp_path / "home" / "wallets" / "carol.json"))
    assert code == 0 and address in out

    code, out, err = run("keys", "export", "carol", "--home", home)
    assert code == 1 and seed not in out and "--yes-show-secret" in err
    code, out, _ = run("keys", "export", "carol", "--home", home, "--yes-show-secret")
    assert code == 0 and out.strip() == seed

    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(seed + "\n")
    code, out, _ = run("keys", "import", "carol2", "--seed-file", str(seed_file), "--home", home)
    assert code == 0 and address in out
    code, out, _ = run("keys", "import", "carol3", "--seed-file", "-", "--home", home,
                       input=seed + "\n")
    assert code == 0 and address in out
    assert read_key(tmp_path / "home" / "wallets" / "carol3.json") == kp

    seed_file.write_text(keys.encode_address(kp.address))
    code, _, err = run("keys", "import", "bad", "--seed-file", str(seed_file), "--home", home)
    assert code == 1 and "not a seed" in err and address not in err
    code, _, err = run("keys", "show", "nobody", "--home", home)
    assert code == 1 and "no wallet 'nobody'" in err
    assert "history" in _flat(run("keys", "import", "--help")[1])


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


# --- genesis ---------------------------------------------------------------------------------


def _pk(seed_byte: int) -> tuple[str, str]:
    from corridor.ledger.keys import KeyPair

    kp = KeyPair.from_seed(bytes([seed_byte]) * 32)
    return keys.encode_public_key(kp.public_key), keys.encode_address(kp.address)


def test_genesis_new(tmp_path: Path) -> None:
    val, _ = _pk(1)
    bank, bank_addr = _pk(2)
    alice, alice_addr = _pk(3)
    out = tmp_path / "genesis.json"
    args = ["genesis", "new", "--out", str(out), "--chain-id", "test-1",
            "--validator", f"{val}:3", "--account", bank, "--account", alice,
            "--asset", f"USD:{bank_addr}:2:auth_required,clawback",
            "--balance", f"{alice_addr}:USD:{bank_addr}:12345",
            "--genesis-time", "2026-01-01T00:00:00Z"]
    code, _, err = run(*args)
    assert code == 0, err
    genesis = parse_genesis(out.read_text())
    assert genesis.chain_id == "test-1"
    assert genesis.genesis_time_ms == 1767225600000
    assert genesis.validators.validators[0].power == 3
    doc = json.loads(out.read_text())
    assert doc["assets"][0]["auth_required"] is True and "freezable" not in doc["assets"][0]
    assert doc["balances"][0]["amount"] == 12345

    code, _, err = run(*args)
    assert code == 1 and "--force" in err

    def bad(*changes: str) -> str:
        code, _, err = run("genesis", "new", "--out", str(tmp_path / "x.json"), "--chain-id",
                           "t", "--validator", val, "--account", bank, *changes)
        assert code == 1
        assert not (tmp_path / "x.json").exists()
        assert err.count("\n") == 1, err
        return err

    assert "--validator 'nope'" in bad("--validator", "nope")
    assert "power" in bad("--validator", f"{val}:x")
    assert "expected CODE:ISSUER_ADDRESS:DECIMALS" in bad("--asset", "USD")
    assert "unknown flag 'shiny'" in bad("--asset", f"USD:{bank_addr}:2:shiny")
    assert "issuer" in bad("--asset", f"USD:{bank}:2")  # a public key is not an address
    assert "not a genesis account" in bad("--asset", f"USD:{alice_addr}:2")
    assert "decimals" in bad("--asset", f"USD:{bank_addr}:99")
    assert "HOLDER:CODE:ISSUER:AMOUNT" in bad("--balance", "x:y")
    assert "unknown asset or holder" in bad(
        "--asset", f"USD:{bank_addr}:2", "--balance", f"{alice_addr}:USD:{bank_addr}:1")
    assert "minor units" in bad("--balance", f"{alice_addr}:USD:{bank_addr}:1.5")
    assert "--account 'p123'" in bad("--account", "p123")


# --- amounts and times (no node) -------------------------------------------------------------


def test_amounts_are_exact() -> None:
    assert parse_amount("12.50", 2) == 1250
    assert parse_amount("12.5", 2) == 1250
    assert parse_amount("0.01", 2) == 1
    assert parse_amount("7", 0) == 7
    assert parse_amount("92233720368547.75", 2) == 9223372036854775
    assert format_amount(1250, 2) == "12.50" and format_amount(5, 0) == "5"
    assert format_amount(1, 6) == "0.000001"
    from corridor.cli.common import CliError

    for text, message in (("12.505", "more decimal places"), ("-1", "negative"),
                          ("0", "zero"), ("0.00", "zero"), ("abc", "not a number"),
                          ("1e3", "not a number"), ("NaN", "not a number"), ("", "not a number"),
                          ("1.", "not a number"), (" 1", "not a number")):
        with pytest.raises(CliError, match=message):
            parse_amount(text, 2)


def test_times() -> None:
    now = 1_000_000
    assert parse_time_ms("+10m", "t", now) == now + 600_000
    assert parse_time_ms("+2h", "t", now) == now + 7_200_000
    assert parse_time_ms("2026-01-01T00:00:00Z", "t") == 1767225600000
    assert parse_time_ms("2026-01-01T01:00:00+01:00", "t") == 1767225600000
    from corridor.cli.common import CliError

    with pytest.raises(CliError, match="not a time"):
        parse_time_ms("tomorrow", "--finish-after")


# --- against a real node ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("node") / "home"
    init_demo_home(home, genesis_time_ms=int(time.time() * 1000))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from corridor.cli.main import app; app()", "node", "start",
         "--home", str(home), "--rpc-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v1/status", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5) if proc.poll() is not None else (b"", b"")
                pytest.fail(f"node did not start: {err.decode(errors='replace')}")
            time.sleep(0.1)
        yield home, url
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _balance(home: Path, url: str, address: str, code: str) -> str:
    """Read with the token of the node's home (the default access mode keeps accounts
    private)."""
    acct = httpx.get(f"{url}/v1/accounts/{address}", headers=token_headers(home)).json()
    return str(next(b["balance"] for b in acct["balances"] if b["code"] == code))


def test_pay_commits_and_shows_up(node: tuple[Path, str]) -> None:
    home, url = node
    bob = keys.encode_address(read_key(home / "wallets" / "bob.json").address)
    before = _balance(home, url, bob, "USD")
    code, out, err = run("tx", "pay", "--home", str(home), "--rpc", url, "--from", "alice",
                         "--to", "bob", "--amount", "12.50", "--currency", "USD",
                         "--memo", "lunch")
    assert code == 0, err
    assert "waiting" in err
    line = next(x for x in out.splitlines() if x.startswith("committed in block"))
    tx_id = line.split("(tx ")[1].rstrip(")")
    height = int(line.split()[3])
    assert int(_balance(home, url, bob, "USD")) == int(before) + 1250

    code, out, err = run("account", "show", bob, "--rpc", url, "--home", str(home))
    assert code == 0, err
    assert "sequence:  0" in out
    usd = next(x for x in out.splitlines() if " USD  issuer" in x)
    assert usd.split()[0] == format_amount(int(before) + 1250, 2)
    assert "12.50" in usd  # bob started at 0
    code, out, _ = run("account", "show", "alice", "--home", str(home), "--rpc", url)
    assert code == 0 and "sequence:  1" in out and "9987.50" in out

    code, out, err = run("tx", "status", tx_id, "--rpc", url, "--home", str(home))
    assert code == 0, err
    assert f"committed in block {height}" in out

    code, out, err = run("block", "show", str(height), "--rpc", url, "--home", str(home))
    assert code == 0, err
    assert f"height:             {height}" in out and tx_id in out
    assert "payment 12.50 USD" in out  # major units, as everywhere (issue 15)
    code, out, err = run("block", "show", "1", "--rpc", url, "--home", str(home))
    assert code == 0 and "state_root:" in out and "evidence_root:" in out


def test_pay_refuses_bad_amounts_before_sending(node: tuple[Path, str]) -> None:
    home, url = node
    seq = httpx.get(f"{url}/v1/status").json()
    for amount, message in (("12.505", "more decimal places than USD allows (2)"),
                            ("-3", "negative"), ("0", "zero"), ("twelve", "not a number")):
        code, out, err = run("tx", "pay", "--home", str(home), "--rpc", url, "--from", "alice",
                             "--to", "bob", "--amount", amount, "--currency", "USD")
        assert code == 1 and message in err, err
        assert "submitted" not in out + err
    after = httpx.get(f"{url}/v1/status").json()
    assert after["mempool"]["txs"] == 0 and after["height"] == seq["height"]


def test_pay_refuses_unknown_recipient(node: tuple[Path, str]) -> None:
    home, url = node

    def pay(to: str, currency: str = "USD") -> str:
        code, out, err = run("tx", "pay", "--home", str(home), "--rpc", url, "--from", "alice",
                             "--to", to, "--amount", "1", "--currency", currency)
        assert code == 1 and "submitted" not in out + err
        assert err.count("\n") == 1, err
        return err

    assert "unknown recipient 'mallory'" in pay("mallory")
    stranger = keys.encode_address(bytes(20))
    assert f"recipient {stranger} has no account" in pay(stranger)
    assert "no asset 'XYZ'" in pay("bob", "XYZ")


def test_two_payments_in_a_row_do_not_wait_for_each_other(node: tuple[Path, str]) -> None:
    """The second payment takes the sequence after the first, still pending (next_sequence)."""
    home, url = node
    bob = keys.encode_address(read_key(home / "wallets" / "bob.json").address)
    before = int(_balance(home, url, bob, "USD"))
    for _ in range(2):
        code, _out, err = run("tx", "pay", "--home", str(home), "--rpc", url, "--from", "alice",
                             "--to", "bob", "--amount", "1", "--currency", "USD", "--no-wait")
        assert code == 0, err
    deadline = time.monotonic() + 30
    while int(_balance(home, url, bob, "USD")) != before + 200:
        assert time.monotonic() < deadline, "the two payments did not both commit"
        time.sleep(0.1)


def test_unreachable_node(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    code, _, err = run("block", "show", "1", "--rpc", url)
    assert code == 1 and f"cannot reach the node at {url}" in err
    assert err.count("\n") == 1
    code, _, err = run("tx", "status", "00" * 32, "--rpc", url)
    assert code == 1 and "cannot reach the node" in err


# --- what the transaction commands build (a fake node) ---------------------------------------


class FakeNode:
    """Answers the RPC calls the tx commands make; records submitted transactions."""

    def __init__(self, home: Path, outcome: str = "committed") -> None:
        self.home, self.outcome = home, outcome
        self.issuer = keys.encode_address(read_key(home / "wallets" / "issuer.json").address)
        self.submitted: list[bytes] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/status":
            return httpx.Response(200, json={"chain_id": "corridor-local", "latest_time_ms": 0})
        if path == "/v1/assets":
            return httpx.Response(200, json={"assets": [
                {"code": "USD", "issuer": self.issuer, "decimals": 2}]})
        if path.startswith("/v1/accounts/"):
            return httpx.Response(200, json={"sequence": 4})
        if path == "/v1/txs":
            raw = bytes.fromhex(json.loads(request.content)["tx"])
            self.submitted.append(raw)
            from corridor.ledger.tx import decode_transaction

            return httpx.Response(200, json={"tx_id": decode_transaction(raw).tx_id.hex()})
        if path.startswith("/v1/txs/"):
            tx_id = path.rsplit("/", 1)[1]
            if self.outcome == "rejected":
                return httpx.Response(200, json={"tx_id": tx_id, "status": "rejected", "error": {
                    "code": "insufficient_balance", "message": "balance 1 < 2"}})
            return httpx.Response(200, json={
                "tx_id": tx_id, "status": "committed", "height": 7, "index": 0,
                "result": {"code": "success",
                           "operations": [{"delivered": "0", "created_id": "ab" * 32}]}})
        return httpx.Response(404, json={"error": {"code": "nope", "message": path}})


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeNode:
    from corridor.cli import node_client

    home = tmp_path / "home"
    init_demo_home(home, genesis_time_ms=0)
    fake = FakeNode(home)
    monkeypatch.setattr(node_client, "connect", lambda rpc, home: node_client.Node(
        rpc, httpx.Client(transport=httpx.MockTransport(fake.handle))))
    return fake


def _sent(fake: FakeNode) -> object:
    from corridor.ledger.tx import decode_transaction

    assert len(fake.submitted) == 1
    return decode_transaction(fake.submitted[0])


def test_escrow_create_builds_the_lock(fake: FakeNode, tmp_path: Path) -> None:
    from corridor.ledger.tx import EscrowCreate, SignedTransaction

    secret = tmp_path / "secret"
    secret.write_bytes(b"open sesame")
    code, out, err = run("tx", "escrow", "create", "--home", str(fake.home), "--from", "alice",
                         "--to", "bob", "--amount", "3.07", "--currency", "USD",
                         "--secret-file", str(secret), "--finish-after", "2026-01-01T00:00:00Z",
                         "--cancel-after", "2026-01-02T00:00:00")
    assert code == 0, err
    assert "committed in block 7" in out and f"escrow id: {'ab' * 32}" in out
    stx = _sent(fake)
    assert isinstance(stx, SignedTransaction)
    assert stx.tx.sequence == 5
    op = stx.tx.operations[0]
    assert isinstance(op, EscrowCreate)
    assert op.amount == 307
    assert op.hashlock == __import__("hashlib").sha256(b"open sesame").digest()
    assert op.finish_after_ms == 1767225600000
    assert op.cancel_after_ms == 1767225600000 + 86_400_000


def test_signers_with_several_keys(fake: FakeNode) -> None:
    from corridor.ledger.tx import SetSigners, SignedTransaction

    alice = read_key(fake.home / "wallets" / "alice.json")
    bob = read_key(fake.home / "wallets" / "bob.json")
    code, _, err = run("tx", "signers", "--home", str(fake.home), "--from", "alice",
                       "--signer", f"{keys.encode_public_key(bob.public_key)}:2",
                       "--signer", "alice:1", "--threshold", "3",
                       "--sign-with", "alice", "--sign-with", "bob")
    assert code == 0, err
    stx = _sent(fake)
    assert isinstance(stx, SignedTransaction)
    op = stx.tx.operations[0]
    assert isinstance(op, SetSigners) and op.threshold == 3
    assert {(s.public_key, s.weight) for s in op.signers} == {
        (alice.public_key, 1), (bob.public_key, 2)}
    assert {s.public_key for s in stx.signatures} == {alice.public_key, bob.public_key}

    code, _, err = run("tx", "signers", "--home", str(fake.home), "--from", "alice",
                       "--signer", "alice:1", "--threshold", "2")
    assert code == 1 and "--threshold 2 must be 1..1" in err


def test_rejection_while_waiting_exits_1(fake: FakeNode) -> None:
    fake.outcome = "rejected"
    code, _, err = run("tx", "pay", "--home", str(fake.home), "--from", "alice", "--to", "bob",
                       "--amount", "0.02", "--currency", "USD")
    assert code == 1
    assert "insufficient_balance: balance 1 < 2" in err


def test_one_formatter_shows_amounts_in_major_units_with_their_currency() -> None:
    """Issue 15: the wallet, explorer and light-client commands print amounts like the
    platform's API (major units) with the currency, through one formatter."""
    assert format_money(1250, "USD", 2) == "12.50 USD"
    assert format_money(-5, "JPY", 0) == "-5 JPY"
    assert format_money(7, "XAU", None) == "7 minor units of XAU"  # decimals unknown
