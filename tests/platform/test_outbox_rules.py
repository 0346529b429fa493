"""The outbox's rules without a node or a database: the one retry policy over every reject
code, the transaction lifetime, and how blocks are followed — from the event stream, with
polling only where the stream left a gap."""

from __future__ import annotations

from typing import Any

import pytest

from corridor.ledger.errors import RejectCode
from corridor.platform.adapters import chain_events
from corridor.platform.adapters.chain_events import Follower
from corridor.platform.domain import outbox
from corridor.platform.domain.outbox import Retry
from corridor.platform.services.ledger_port import BlockOutcomes, TxOutcome


@pytest.mark.parametrize("code", list(RejectCode))
def test_the_retry_policy_covers_every_reject_code(code: RejectCode) -> None:
    fresh = outbox.on_refusal(code.name, attempts=1)
    ours_or_passing = code in outbox.OURS or not code.permanent
    assert fresh is (Retry.REBUILD if ours_or_passing else Retry.FAIL)
    # After the last attempt nothing is built again, whatever the code.
    assert outbox.on_refusal(code.name, attempts=outbox.ATTEMPTS_MAX) is Retry.FAIL
    # The wire's lower-case name means the same code.
    assert outbox.on_refusal(code.name.lower(), attempts=1) is fresh


def test_the_retry_policy_names_goals_and_refuses_to_guess() -> None:
    exists = frozenset({RejectCode.ACCOUNT_EXISTS})
    assert outbox.on_refusal("ACCOUNT_EXISTS", attempts=1, reached=exists) is Retry.REACHED
    assert outbox.on_refusal("ACCOUNT_EXISTS", attempts=1) is Retry.FAIL
    assert outbox.on_refusal("SOMETHING_NEW", attempts=0) is Retry.FAIL
    assert outbox.reject_code("bad_sequence") is RejectCode.BAD_SEQUENCE
    assert outbox.reject_code("WALLET_FAILED") is None


def test_a_transaction_lives_one_window_by_either_clock() -> None:
    end = outbox.not_after_ms(now_ms=1_000, chain_time_ms=5_000)
    assert end == 5_000 + outbox.TX_TTL_MS  # the later clock counts
    assert not outbox.past_window(end, chain_time_ms=end, now_ms=end)
    assert outbox.past_window(end, chain_time_ms=end + 1, now_ms=0)  # the chain moved past
    # The chain's clock may stand still (no blocks): ours, beyond any honest skew.
    assert not outbox.past_window(end, chain_time_ms=0, now_ms=end + outbox.CLOCK_SKEW_MAX_MS)
    assert outbox.past_window(end, chain_time_ms=0, now_ms=end + outbox.CLOCK_SKEW_MAX_MS + 1)


def _block(height: int) -> BlockOutcomes:
    return BlockOutcomes(height=height, time_ms=height * 1_000,
                         txs=(TxOutcome(tx_id=f"{height:064x}", success=True),))


class FakeStream:
    def __init__(self, heights: list[int], *, connected: bool = True) -> None:
        self.queued = [_block(h) for h in heights]
        self.connected = connected
        self.skipped_to = 0

    def take(self, wait_s: float) -> list[BlockOutcomes]:
        out, self.queued = self.queued, []
        return out

    def skip_to(self, height: int) -> None:
        self.skipped_to = max(self.skipped_to, height)


class FakeNode:
    def __init__(self, head: int) -> None:
        self.head = head
        self.read: list[int] = []

    def block(self, height: int) -> BlockOutcomes | None:
        self.read.append(height)
        return _block(height) if height <= self.head else None


class FakeClock:
    def __init__(self) -> None:
        self.ms = 0

    def now_ms(self) -> int:
        return self.ms


def _follower(stream: FakeStream | None, node: FakeNode, clock: FakeClock) -> Follower:
    fakes: Any = (node, stream)  # the narrow parts of the port and the stream it uses
    return Follower(fakes[0], fakes[1], clock)


def test_blocks_come_from_the_stream_and_only_a_gap_is_polled() -> None:
    node, clock = FakeNode(head=9), FakeClock()
    stream = FakeStream([2, 3, 4, 7, 8])  # 2 was applied already; 5 and 6 were skipped
    got = _follower(stream, node, clock).after(3, 0.0)
    assert [b.height for b in got] == [4, 5, 6, 7, 8]
    assert node.read == [5, 6]  # the hole, and nothing else
    assert stream.skipped_to == 8  # a reconnection resumes after what was handed over


def test_a_connected_quiet_stream_is_trusted_until_it_stalls() -> None:
    node, clock = FakeNode(head=5), FakeClock()
    stream = FakeStream([])
    follower = _follower(stream, node, clock)
    assert follower.after(3, 0.0) == [] and node.read == []  # no news is no news
    clock.ms += chain_events.STALL_MS + 1
    assert [b.height for b in follower.after(3, 0.0)] == [4, 5]  # silent too long: look
    assert node.read == [4, 5, 6]


@pytest.mark.parametrize("stream", [None, FakeStream([], connected=False)])
def test_without_a_stream_blocks_are_polled(stream: FakeStream | None) -> None:
    node, clock = FakeNode(head=4), FakeClock()
    assert [b.height for b in _follower(stream, node, clock).after(1, 0.0)] == [2, 3, 4]


def test_the_event_text_is_parsed_into_blocks() -> None:
    body = ('{"header":{"time_ms":7},"transactions":[{"tx_id":"aa","result":{"code":"success"}},'
            '{"tx_id":"bb","result":{"code":38}}],"dropped":[]}')
    lines = [": heartbeat", "", "event: block", "id: 12", f"data: {body}", "",
             "event: other", "id: 13", "data: {}", ""]
    [block] = list(chain_events._parse(iter(lines)))
    assert block == BlockOutcomes(height=12, time_ms=7, txs=(
        TxOutcome(tx_id="aa", success=True),
        TxOutcome(tx_id="bb", success=False, code="INSUFFICIENT_BALANCE")))
