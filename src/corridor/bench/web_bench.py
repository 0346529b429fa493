"""Server time of every page on the demo data: `corridor bench web`.

The site (API and pages, `web.site.create_site`) runs under uvicorn on 127.0.0.1 over the
demo data set (`web_demo`); each page of the registry (`web_demo.PAGES`) is asked for
`requests` times, half in English and half in Chinese, with the session of the visitor it
is for, one request at a time over a kept-alive connection. Server time is measured inside
the server (an ASGI wrapper: from the request's arrival to the last byte of the answer),
so the client's own work is not counted. Target (issue 15): every page's p95 <= 300 ms.

The machine's own limit, measured in the same run the same way: the API's health answer
(`/v1/health`, no database, no template), the floor under every page's time.
"""

from __future__ import annotations

import http.client
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.bench import web_demo
from corridor.bench.report import Row, Target, machine_json, percentile, targets_json
from corridor.web import security
from corridor.web.site import create_site

Log = Callable[[str], None]
PAGE_P95_MS_MAX = 300.0
TARGET = Target(op="<=", value=PAGE_P95_MS_MAX)
BASELINE_PATH = "/v1/health"
LANGUAGES = ("en", "zh-CN")


@dataclass(frozen=True, slots=True, kw_only=True)
class WebBenchConfig:
    quick: bool
    requests: int  # per page (after one warm-up per language)


FULL = WebBenchConfig(quick=False, requests=40)
QUICK = WebBenchConfig(quick=True, requests=6)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageTimes:
    name: str
    path: str
    who: str
    n: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    @classmethod
    def of(cls, name: str, path: str, who: str, samples_ms: list[float]) -> PageTimes:
        ordered = sorted(samples_ms)
        return cls(name=name, path=path, who=who, n=len(ordered),
                   p50_ms=percentile(ordered, 50), p95_ms=percentile(ordered, 95),
                   max_ms=ordered[-1])


@dataclass(frozen=True, slots=True, kw_only=True)
class WebFigures:
    config: WebBenchConfig
    pages: tuple[PageTimes, ...]
    baseline: PageTimes
    seed_s: float
    elapsed_s: float


class ServerTimer:
    """ASGI wrapper: the time from a request's arrival to its answer's last byte."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (time.perf_counter() - started) * 1000

        await self.app(scope, receive, timed)


def _serve(app: Any) -> Iterator[int]:
    """Runs `app` under uvicorn on a free localhost port in a thread; yields the port."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the site did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str],
         expected: int) -> None:
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != expected:
        raise RuntimeError(f"GET {path}: {response.status}, expected {expected}")


def _measure(conn: http.client.HTTPConnection, timer: ServerTimer, path: str, cookie: str,
             expected: int, requests: int) -> list[float]:
    samples = []
    for language in LANGUAGES:  # warm-up: templates compiled, caches filled
        _get(conn, path, _headers(cookie, language), expected)
    for i in range(requests):
        _get(conn, path, _headers(cookie, LANGUAGES[i % len(LANGUAGES)]), expected)
        samples.append(timer.last_ms)
    return samples


def _headers(cookie: str, language: str) -> dict[str, str]:
    headers = {"Accept-Language": language}
    if cookie:
        headers["Cookie"] = cookie
    return headers


def run(config: WebBenchConfig, log: Log, data_dir: Path | None = None) -> WebFigures:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="corridor-bench-web-") as tmp:
        demo = web_demo.build(data_dir or Path(tmp))
        try:
            seed_s = time.perf_counter() - started
            log(f"demo data made through the services in {seed_s:.1f} s")
            web_demo.check(demo)
            timer = ServerTimer(create_site(demo.platform))
            session_cookie = security.cookie_names(demo.platform.settings.production)[0]
            pages = []
            for port in _serve(timer):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                base = PageTimes.of("baseline", BASELINE_PATH, web_demo.ANONYMOUS,
                                    _measure(conn, timer, BASELINE_PATH, "", 200,
                                             config.requests))
                for page in web_demo.PAGES:
                    token = demo.tokens.get(page.who, "")
                    cookie = f"{session_cookie}={token}" if token else ""
                    path = demo.path(page)
                    times = PageTimes.of(page.name, path, page.who,
                                         _measure(conn, timer, path, cookie, page.status,
                                                  config.requests))
                    log(f"{page.name}: p95 {times.p95_ms:.1f} ms")
                    pages.append(times)
                conn.close()
        finally:
            demo.platform.close()
    return WebFigures(config=config, pages=tuple(pages), baseline=base, seed_s=seed_s,
                      elapsed_s=time.perf_counter() - started)


def table_rows(f: WebFigures) -> list[Row]:
    b = f.baseline
    rows = [Row(name="baseline.p95", value=b.p95_ms, unit="ms",
                note=f"{BASELINE_PATH} (no database, no template): the machine's floor; "
                f"p50 {b.p50_ms:.2f} ms")]
    for p in f.pages:
        rows.append(Row(name=f"{p.name}.p95", value=p.p95_ms, unit="ms", target=TARGET,
                        note=f"p50 {p.p50_ms:.1f} ms ({p.p50_ms / b.p50_ms:.0f}x the "
                        f"baseline's), max {p.max_ms:.1f} ms; {p.who}"))
    worst = max(f.pages, key=lambda p: p.p95_ms)
    rows.append(Row(name="worst_page.p95", value=worst.p95_ms, unit="ms", target=TARGET,
                    note=f"{worst.name} ({worst.path})"))
    return rows


def json_document(f: WebFigures, rows: list[Row]) -> dict[str, Any]:
    return {
        "bench": "web",
        "quick": f.config.quick,
        "requests_per_page": f.config.requests,
        "languages": list(LANGUAGES),
        "baseline": _times_json(f.baseline),
        "pages": {p.name: _times_json(p) for p in f.pages},
        "seed_s": f.seed_s,
        "elapsed_s": f.elapsed_s,
        "targets": targets_json(rows),
        "machine": machine_json(),
    }


def _times_json(p: PageTimes) -> dict[str, Any]:
    return {"path": p.path, "who": p.who, "n": p.n, "p50_ms": p.p50_ms, "p95_ms": p.p95_ms,
            "max_ms": p.max_ms}
