"""A simulated bank rail for development and tests (implements services' `Rail` port) that
behaves like a real one: deposit instructions name the platform's collection account;
incoming transfers and payout outcomes arrive later, each as a signed webhook event;
payouts are accepted with a rail reference and paid or failed after a delay (an account
number pattern or a seeded failure rate decides), and a paid payout may be returned.

Events are delivered by a `Deliver` function: in-process by default (the very code path
the HTTP endpoint uses, with the signed bytes), or over HTTP to a URL. A delivery that is
not answered with 2xx is retried with backoff. State is in memory: a simulator.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import logging
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from corridor.platform.domain import rails as r
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.rails import EventType
from corridor.platform.services import rails
from corridor.platform.services.ports import Clock, Deps
from corridor.platform.services.rail_port import (
    CollectionAccount,
    PayoutAccepted,
    PayoutRefused,
)

log = logging.getLogger("corridor.platform.sim_bank")

NAME = "sim-bank"
Deliver = Callable[[dict[str, str], bytes], int]  # (headers, body) -> HTTP status
DRAIN_ROUNDS_MAX = 100
DEAD_LETTERS_MAX = 1000
HTTP_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SimBankConfig:
    # Test accounts by their first digits (valid domestic account numbers in every country
    # domain/bank.py knows, e.g. GB's eight digits): payouts to an account matching
    fail_account_pattern: str = r"^99000"  # ... fail after the delay
    return_account_pattern: str = r"^99001"  # ... are paid, then returned
    refuse_account_pattern: str = r"^99002"  # ... are refused at once (never accepted)
    failure_rate: float = 0.0  # of other payouts, drawn from random.Random(seed)
    seed: int = 0
    arrival_ms: int = 1_000  # a customer's transfer reaches the platform after this
    settle_ms: int = 2_000  # a payout is paid (or fails) this long after acceptance
    return_ms: int = 5_000  # a returned payout comes back this long after being paid
    retry_ms: int = 1_000  # first retry of an unanswered delivery; doubles each time
    delivery_attempts_max: int = 8

    def __post_init__(self) -> None:
        assert 0.0 <= self.failure_rate <= 1.0
        assert min(self.arrival_ms, self.settle_ms, self.return_ms) >= 0
        assert self.retry_ms > 0 and self.delivery_attempts_max >= 1


@dataclasses.dataclass(order=True)
class _Pending:
    due_ms: int
    seq: int
    event: dict[str, Any] = dataclasses.field(compare=False)
    attempts: int = dataclasses.field(default=0, compare=False)


class SimBank:
    name = NAME

    def __init__(self, secret: bytes, clock: Clock, *, config: SimBankConfig | None = None,
                 deliver: Deliver | None = None) -> None:
        self.secret = secret
        self.clock = clock
        self.config = config or SimBankConfig()
        self.deliver = deliver
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._seq = 0
        self._payouts: dict[str, PayoutAccepted | PayoutRefused] = {}
        self._received: dict[str, tuple[str, int]] = {}  # rail_ref -> (currency, amount)
        self.returns: dict[str, dict[str, Any]] = {}  # return_id -> what was sent back
        self.dead_letters: list[dict[str, Any]] = []  # events never acknowledged

    # --- the Rail port --------------------------------------------------------------------

    def collection_account(self, currency: str) -> CollectionAccount:
        number = f"{sum(ord(c) for c in currency):08d}"
        return CollectionAccount(
            bank_name="Corridor Sim Bank", account_name="Corridor Payments Ltd client account",
            account=r.iban("GB", f"SIMB000000{number}"), bank_code="SIMBGB2L", country="GB",
            currency=currency)

    def request_payout(self, *, payout_id: str, currency: str, amount_minor: int,
                       bank: Mapping[str, str], reference: str
                       ) -> PayoutAccepted | PayoutRefused:
        cfg = self.config
        account = bank.get("account", "")
        with self._lock:
            known = self._payouts.get(payout_id)
            if known is not None:
                return known  # idempotent: asked again after a crash, paid once
            if re.search(cfg.refuse_account_pattern, account):
                answer: PayoutAccepted | PayoutRefused = PayoutRefused(
                    code="ACCOUNT_INVALID", message="the beneficiary account does not exist")
                self._payouts[payout_id] = answer
                return answer
            rail_ref = f"SBP{uuid.uuid4().hex[:20].upper()}"
            answer = PayoutAccepted(rail_ref=rail_ref)
            self._payouts[payout_id] = answer
            now = self.clock.now_ms()
            data = {"payout_id": payout_id, "rail_ref": rail_ref, "amount_minor": amount_minor,
                    "currency": currency, "reference": reference}
            fails = (re.search(cfg.fail_account_pattern, account) is not None
                     or self._rng.random() < cfg.failure_rate)
            if fails:
                self._schedule(now + cfg.settle_ms, EventType.PAYOUT_FAILED,
                               {**data, "code": "ACCOUNT_CLOSED",
                                "message": "the beneficiary bank refused the credit"})
            else:
                self._schedule(now + cfg.settle_ms, EventType.PAYOUT_PAID, data)
                if re.search(cfg.return_account_pattern, account):
                    self._schedule(now + cfg.settle_ms + cfg.return_ms,
                                   EventType.PAYOUT_RETURNED,
                                   {**data, "code": "RETURNED",
                                    "message": "returned by the beneficiary bank"})
        return answer

    def return_funds(self, *, return_id: str, rail_ref: str, currency: str,
                     amount_minor: int, reason: str) -> PayoutAccepted | PayoutRefused:
        with self._lock:
            known = self.returns.get(return_id)
            if known is not None:
                return PayoutAccepted(rail_ref=known["rail_ref"])  # idempotent
            received = self._received.get(rail_ref)
            if received is not None and received != (currency, amount_minor):
                return PayoutRefused(code="RETURN_MISMATCH",
                                     message="the return does not match the transfer")
            ref = f"SBR{uuid.uuid4().hex[:20].upper()}"
            self.returns[return_id] = {"rail_ref": ref, "transfer": rail_ref,
                                       "currency": currency, "amount_minor": amount_minor,
                                       "reason": reason}
            return PayoutAccepted(rail_ref=ref)

    # --- the customer's side ----------------------------------------------------------------

    def send_transfer(self, *, reference: str, amount_minor: int, currency: str,
                      remitter_name: str | None = None) -> str:
        """A customer's bank transfer to the collection account (from an account held in
        `remitter_name`, when the bank tells); the platform hears of it asynchronously.
        Returns the rail's reference of the transfer."""
        rail_ref = f"SBT{uuid.uuid4().hex[:20].upper()}"
        data: dict[str, Any] = {"reference": reference, "amount_minor": amount_minor,
                                "currency": currency, "rail_ref": rail_ref}
        if remitter_name is not None:
            data["remitter_name"] = remitter_name
        with self._lock:
            self._received[rail_ref] = (currency, amount_minor)
            self._schedule(self.clock.now_ms() + self.config.arrival_ms,
                           EventType.TRANSFER_RECEIVED, data)
        return rail_ref

    # --- delivery ---------------------------------------------------------------------------

    def _schedule(self, due_ms: int, kind: EventType, data: dict[str, Any]) -> None:
        self._seq += 1
        event = {"id": f"evt_{uuid.uuid4().hex}", "type": kind.value, "data": data}
        heapq.heappush(self._queue, _Pending(due_ms=due_ms, seq=self._seq, event=event))

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def pump(self, *, now_ms: int | None = None) -> int:
        """Delivers every event due by `now_ms` (default: the clock); returns how many were
        acknowledged. Deliveries run outside the lock (they call into the platform)."""
        now = self.clock.now_ms() if now_ms is None else now_ms
        with self._lock:
            due = []
            while self._queue and self._queue[0].due_ms <= now:
                due.append(heapq.heappop(self._queue))
        done = 0
        for item in due:
            status = self._deliver_one(item.event)
            if 200 <= status < 300:
                done += 1
                continue
            item.attempts += 1
            with self._lock:
                if item.attempts >= self.config.delivery_attempts_max:
                    log.error("event %s dropped after %d attempts (last status %d)",
                              item.event["id"], item.attempts, status)
                    if len(self.dead_letters) < DEAD_LETTERS_MAX:
                        self.dead_letters.append(item.event)
                    continue
                item.due_ms = now + self.config.retry_ms * 2 ** (item.attempts - 1)
                heapq.heappush(self._queue, item)
        return done

    def drain(self) -> int:
        """Delivers everything scheduled, however far ahead (tests; `dev` fast-forward).
        Events scheduled meanwhile (a payout's return) are delivered too."""
        total = 0
        for _ in range(DRAIN_ROUNDS_MAX):
            with self._lock:
                if not self._queue:
                    break
                horizon = max(p.due_ms for p in self._queue)
            total += self.pump(now_ms=horizon)
        return total

    def _deliver_one(self, event: dict[str, Any]) -> int:
        if self.deliver is None:
            return 0
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        timestamp = self.clock.now_ms() // 1000
        headers = {rails.TIMESTAMP_HEADER: str(timestamp),
                   rails.SIGNATURE_HEADER: r.sign(self.secret, timestamp, body)}
        try:
            return self.deliver(headers, body)
        except Exception:  # a delivery bug must not stop the simulator: retried later
            log.exception("delivery of event %s failed", event["id"])
            return 0


def in_process(deps: Deps, rail: str = NAME) -> Deliver:
    """Delivery straight into the platform, through the webhook endpoint's own code."""

    def deliver(headers: dict[str, str], body: bytes) -> int:
        try:
            rails.receive_webhook(deps, rail, timestamp=headers[rails.TIMESTAMP_HEADER],
                                  signature=headers[rails.SIGNATURE_HEADER], body=body)
        except PlatformError as exc:
            log.warning("event refused: %s %s", exc.code, exc.message)
            return exc.kind.http_status
        return 200

    return deliver


def over_http(url: str) -> Deliver:
    """Delivery as a real bank would: a POST of the signed bytes to the platform's URL."""

    def deliver(headers: dict[str, str], body: bytes) -> int:
        try:
            reply = httpx.post(url, content=body, timeout=HTTP_TIMEOUT_S,
                               headers={**headers, "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("delivery to %s failed: %s", url, exc)
            return 0
        return reply.status_code

    return deliver
