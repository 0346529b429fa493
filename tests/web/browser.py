"""A real browser on the pages: Debian's Chromium driven by Playwright (its own browser
download is never used; scripts/test.sh installs `chromium` with apt-get), against the
site served by uvicorn on 127.0.0.1, with a ledger node stand-in for balances."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.platform.domain.errors import Err
from corridor.platform.services.ledger_port import ChainAccount, ChainHolding, ChainStatus

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "out" / "web-screenshots"
ISSUER = "cISSUER"


@dataclasses.dataclass
class Ledger:
    """The node as the pages read it: every account holds `holdings`."""

    holdings: tuple[ChainHolding, ...] = ()

    def status(self) -> ChainStatus:
        return ChainStatus(chain_id="corridor-web-test", height=42, latest_time_ms=0)

    def account(self, address: str) -> ChainAccount:
        return ChainAccount(address=address, sequence=1, holdings=self.holdings)

    def tx_proof(self, tx_id: str) -> None:
        raise Err.NODE_UNAVAILABLE.error("test: no proofs here")


def holding(code: str, minor: int) -> ChainHolding:
    return ChainHolding(code=code, issuer=ISSUER, balance_minor=minor, authorised=True,
                        frozen=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app: object) -> Iterator[str]:
    """Runs `app` on a free localhost port in a thread; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,  # type: ignore[arg-type]
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "the site did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does)")
    return CHROMIUM
