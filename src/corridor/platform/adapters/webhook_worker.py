"""The webhook delivery worker: POSTs due deliveries of the outbox (services/webhooks.py),
signed, and records each attempt; failures are retried with exponential backoff up to
`domain.webhooks.ATTEMPTS_MAX` times. Started and stopped by the composition root.

One worker per deployment: two would both send a delivery that is due (the receiver must
de-duplicate by the delivery id anyway, since a crash after the POST resends it)."""

from __future__ import annotations

import httpx

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.domain import webhooks as dom
from corridor.platform.services import webhooks
from corridor.platform.services.ports import Deps

INTERVAL_S = 0.5
DELIVERY_TIMEOUT_S = 5.0


class WebhookWorker(Periodic):
    name = "webhook-worker"

    def __init__(self, deps: Deps, *, interval_s: float = INTERVAL_S,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(interval_s)
        self.deps = deps
        self._http = httpx.Client(timeout=DELIVERY_TIMEOUT_S, transport=transport,
                                  follow_redirects=False)

    def run_once(self) -> int:
        """Attempts every due delivery once; returns how many were attempted."""
        batch = webhooks.due(self.deps)
        for item in batch:
            self._send(item)
        return len(batch)

    def _send(self, item: webhooks.Due) -> None:
        d = item.delivery
        body = dom.event_body(d)
        ts = self.deps.clock.now_ms()
        headers = {"Content-Type": "application/json", dom.EVENT_HEADER: d.event,
                   dom.DELIVERY_HEADER: d.id,
                   dom.SIGNATURE_HEADER: dom.signature_header(item.secret, ts, body)}
        try:
            r = self._http.post(item.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            webhooks.record_attempt(self.deps, d.id, ok=False, status_code=None,
                                    error=type(exc).__name__)
            return
        webhooks.record_attempt(self.deps, d.id, ok=200 <= r.status_code < 300,
                                status_code=r.status_code,
                                error=None if r.is_success else f"HTTP {r.status_code}")

    def close(self) -> None:
        self.stop()
        self._http.close()
