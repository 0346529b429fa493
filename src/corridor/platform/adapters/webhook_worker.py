"""The webhook delivery worker: POSTs due deliveries of the outbox (services/webhooks.py),
signed, and records each attempt; failures are retried with exponential backoff up to
`domain.webhooks.ATTEMPTS_MAX` times. Started and stopped by the composition root.

One worker per deployment: two would both send a delivery that is due (the receiver must
de-duplicate by the delivery id anyway, since a crash after the POST resends it).

Each delivery resolves the endpoint's host, refuses it unless every address is public
(domain.webhooks.address_refusal, with the development allow-list), and connects to the
address it checked, with the original Host header and TLS server name: a name that
resolves to a public address when saved and to an internal one later (DNS rebinding)
is refused, and the connection cannot be resolved a second time to somewhere else."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable

import httpx

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.domain import webhooks as dom
from corridor.platform.services import webhooks
from corridor.platform.services.ports import Deps

INTERVAL_S = 0.5
DELIVERY_TIMEOUT_S = 5.0

Resolver = Callable[[str, int], list[str]]  # (host, port) -> its addresses, as text


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class _Target:
    """Where one delivery goes: the checked address, and the name the receiver expects."""

    def __init__(self, url: httpx.URL, host_header: str, server_name: str) -> None:
        self.url = url
        self.host_header = host_header
        self.server_name = server_name


class WebhookWorker(Periodic):
    name = "webhook-worker"

    def __init__(self, deps: Deps, *, interval_s: float = INTERVAL_S,
                 transport: httpx.BaseTransport | None = None,
                 resolver: Resolver = system_resolver) -> None:
        super().__init__(interval_s)
        self.deps = deps
        self._resolve = resolver
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
                   dom.SIGNATURE_HEADER: dom.signature_header(
                       item.secret, ts, body, *([item.previous] if item.previous else []))}
        target = self._target(item.url)
        if isinstance(target, str):
            webhooks.record_attempt(self.deps, d.id, ok=False, status_code=None, error=target)
            return
        headers["Host"] = target.host_header
        # Latency on the monotonic clock of this process (the log's figure, not a rule's).
        started = time.monotonic()
        try:
            r = self._http.post(target.url, content=body, headers=headers,
                                extensions={"sni_hostname": target.server_name})
        except httpx.HTTPError as exc:
            webhooks.record_attempt(self.deps, d.id, ok=False, status_code=None,
                                    error=type(exc).__name__, latency_ms=_ms_since(started))
            return
        webhooks.record_attempt(self.deps, d.id, ok=200 <= r.status_code < 300,
                                status_code=r.status_code,
                                error=None if r.is_success else f"HTTP {r.status_code}",
                                latency_ms=_ms_since(started), excerpt=_excerpt(r))

    def _target(self, url_text: str) -> _Target | str:
        """The checked address to connect to, or why not (recorded as the attempt's error)."""
        try:
            url = httpx.URL(url_text)
            port = url.port or (443 if url.scheme == "https" else 80)
            addresses = [ipaddress.ip_address(a.split("%")[0])
                         for a in self._resolve(url.host, port)]
        except (httpx.InvalidURL, OSError, ValueError, UnicodeError) as exc:
            return f"cannot resolve the host: {type(exc).__name__}"
        if not addresses:
            return "the host has no address"
        allowed = webhooks.allowed_networks(self.deps)
        for address in addresses:
            refusal = dom.address_refusal(address, allowed)
            if refusal is not None:
                return f"refused: {refusal}"
        return _Target(url.copy_with(host=str(addresses[0])), url.netloc.decode("ascii"),
                       url.host)

    def close(self) -> None:
        self.stop()
        self._http.close()


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _excerpt(r: httpx.Response) -> str:
    """The start of the receiver's answer, as printable text (for the delivery log)."""
    text = r.content[:dom.EXCERPT_LEN_MAX].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text)
