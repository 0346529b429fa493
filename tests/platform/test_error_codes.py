"""Every platform error code (`Err`) is reachable through the API, or marked internal.

Reachable: code the API imports (its import graph, read by grimp, so the answer depends on
no test order or on what else the run imported) refers to the member, at a raising site
(`Err.X.error(...)`, `raise_if_any(Err.X)`, the envelope's own codes). The check runs for
every member, parametrised, and never skips: a code added to the enum and raised nowhere,
or a raising site removed, fails here. A second list names the codes no test asserts yet,
so a new code needs a test or a conscious entry.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from pathlib import Path
from typing import Any

import grimp
import pytest
from starlette.testclient import TestClient

from corridor.api import app
from corridor.api import errors as api_errors
from corridor.api.statuses import DESCRIPTIONS
from corridor.platform import bootstrap
from corridor.platform.domain.errors import Err, Kind
from corridor.platform.services import kyc
from tests.platform.conftest import Actor

TESTS = Path(__file__).resolve().parents[1]

# Codes no test asserts by name yet (each has a raising site, checked below). Shrink it:
# a test that produces one of these should take it off.
ASSERTED_BY_NO_TEST = frozenset({
    Err.UNSUPPORTED_MEDIA_TYPE, Err.HTTP_ERROR, Err.INVALID_PHONE, Err.CODE_REQUIRED,
    Err.TOO_MANY_CODES,
    Err.TOTP_ALREADY_ENABLED, Err.TOTP_NOT_ENABLED, Err.TOTP_NOT_STARTED,
    Err.TOO_MANY_WEBHOOKS, Err.KYC_FILES_LIMIT, Err.TOO_MANY_ASSETS, Err.ADDRESS_TAKEN,
    Err.NODE_BAD_REPLY, Err.NODE_NOT_CONFIGURED, Err.INVALID_RATE, Err.RATE_UNAVAILABLE,
    Err.INVALID_TRANSFER, Err.REFUND_FILES_LIMIT, Err.RAIL_UNAVAILABLE, Err.RETURN_REFUSED,
})


@functools.cache
def _raising_sites() -> dict[Err, tuple[str, ...]]:
    """Member -> the modules imported by the API app that refer to it."""
    graph = grimp.build_graph("corridor")
    # The app mounts its routers by name (importlib), which an import graph cannot see.
    # The web site (corridor.web.site) serves the API and the pages that call the same services.
    roots = ({"corridor.api.app", "corridor.web.site"}
             | {f"corridor.api.routers.{name}" for name in app.ROUTERS})
    modules = set(roots)
    for root in roots:
        modules |= graph.find_upstream_modules(root)
    sites: dict[Err, list[str]] = {}
    for module in sorted(modules):
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, module
        tree = ast.parse(Path(spec.origin).read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "Err" and node.attr in Err.__members__):
                sites.setdefault(Err[node.attr], []).append(module)
    return {err: tuple(found) for err, found in sites.items()}


@functools.cache
def _test_text() -> str:
    """Every test's source, this module's list of untested codes left out."""
    text = "\n".join(p.read_text() for p in sorted(TESTS.rglob("*.py")))
    start = text.index("ASSERTED_BY_NO_TEST = frozenset({")
    return text[:start] + text[text.index("})", start):]


@pytest.mark.parametrize("err", list(Err), ids=lambda e: e.name)
def test_every_code_is_reachable_through_the_api_or_marked_internal(err: Err) -> None:
    sites = _raising_sites().get(err, ())
    assert sites or err.internal, (
        f"{err.name} is raised nowhere the API reaches: raise it, remove it, or mark it "
        "internal (its fourth field)")


@pytest.mark.parametrize("err", list(Err), ids=lambda e: e.name)
def test_every_code_is_asserted_by_a_test_or_listed(err: Err) -> None:
    text = _test_text()
    asserted = f'"{err.code}"' in text or f"Err.{err.name}" in text
    assert asserted or err in ASSERTED_BY_NO_TEST, (
        f"no test asserts {err.code}: write one that produces it through the API, or list "
        "it in ASSERTED_BY_NO_TEST")


@pytest.mark.parametrize("err", list(Err), ids=lambda e: e.name)
def test_a_code_is_its_name_and_answers_with_its_kinds_status(err: Err) -> None:
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", err.code) and err.code == err.name
    assert err.message and err.message == err.message.strip()
    reply = api_errors.response(err.error())
    assert reply.status_code == err.kind.http_status
    assert reply.body.startswith(b'{"error":{"code":"%s","message"' % err.code.encode())
    bearer = reply.headers.get("www-authenticate")
    assert (bearer == "Bearer") == (err.kind is Kind.UNAUTHENTICATED)


def test_each_kind_has_its_own_status_and_a_description() -> None:
    by_status = {k.http_status for k in Kind}
    assert len(by_status) == len(Kind)
    assert set(DESCRIPTIONS) == set(Kind)


def test_framework_statuses_map_to_codes_of_the_same_status() -> None:
    for status, err in api_errors.HTTP_CODES.items():
        assert err.kind.http_status == status, err


def test_the_frameworks_refusals_and_a_bug_answer_with_codes_of_the_enum(
        platform: bootstrap.Platform, customer: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    def code(r: Any) -> tuple[int, str]:
        return r.status_code, r.json()["error"]["code"]

    def bug(*_args: object, **_kw: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(kyc, "get_customer", bug)
    with TestClient(app.create_app(platform), raise_server_exceptions=False) as client:
        assert code(client.delete("/v1/health")) == (405, Err.METHOD_NOT_ALLOWED.code)
        assert code(client.get("/v1/no-such-page")) == (404, Err.NOT_FOUND.code)
        broken = client.post("/v1/kyc/files", content=b"--x\r\nnot a part",
                             headers={**customer.headers,
                                      "Content-Type": "multipart/form-data; boundary=x"})
        assert code(broken) == (400, Err.BAD_REQUEST.code)
        failed = client.get("/v1/kyc/customer", headers=customer.headers)
        assert code(failed) == (500, Err.INTERNAL.code)
        assert "a bug" not in failed.text  # logged, never shown
