"""The public explorer over HTTP, on a chain of real ledger values (chain_fakes.py): the
latest blocks and transactions, a block with its commit certificate, a transaction with its
result and proof, an account, the validators, the search box; in English and Chinese; bad
input and an unreachable node get a page with a stable code; the rate limit holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from corridor.ledger.tx import OpType
from corridor.platform import bootstrap
from corridor.platform.adapters.ledger_client import LedgerClient
from corridor.platform.config import Settings
from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import explorer
from corridor.web import i18n, labels, messages, pages_explorer
from corridor.web.site import create_site
from tests.web.chain_fakes import ALICE, BOB, FAILED_CODE, ISSUER, VALIDATORS, FakeChain, addr

ZH = {"accept-language": "zh-CN"}


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def site(tmp_path: Path, db_url: str, chain: FakeChain) -> Iterator[TestClient]:
    platform = bootstrap.build(Settings(data_dir=tmp_path / "platform", database_url=db_url,
                                        fast_password_hashing=True),
                               ledger=chain, chain=chain)  # type: ignore[arg-type]
    try:
        with TestClient(create_site(platform), base_url="http://127.0.0.1") as c:
            yield c
    finally:
        platform.close()


def code_of(html: str) -> str:
    match = re.search(r'data-code="([A-Z_]+)"', html)
    assert match, html[:500]
    return match.group(1)


def test_front_page_lists_latest_blocks_and_transactions(site: TestClient,
                                                         chain: FakeChain) -> None:
    r = site.get("/explorer")
    assert r.status_code == 200
    html = r.text
    for height in range(1, 6):
        assert f'href="/explorer/block/{height}"' in html
    for tx_id in chain.tx_ids(2) + chain.tx_ids(4):
        assert f'href="/explorer/tx/{tx_id}"' in html
    # newest first: block 4's payment before block 2's
    assert html.index(chain.tx_ids(4)[0]) < html.index(chain.tx_ids(2)[0])
    assert "12,345.67 USD" in html  # minor units with the asset's 2 decimals, grouped
    assert "Failed" in html and "Applied" in html
    assert 'hx-get="/explorer/latest"' in html  # followed live, a plain page without JS
    fragment = site.get("/explorer/latest", headers={"hx-request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="explorer-latest"' in fragment.text


def test_block_shows_header_transactions_and_commit_certificate(site: TestClient,
                                                                chain: FakeChain) -> None:
    r = site.get("/explorer/block/2")
    assert r.status_code == 200
    html = r.text
    assert chain.blocks[2].header.hash().hex() in html
    assert chain.blocks[2].header.tx_root.hex() in html
    for tx_id in chain.tx_ids(2):
        assert tx_id in html
    for sig in chain.commits[2].signatures:
        assert sig.signature.hex() in html
    assert html.count("data-signer") == 3 and html.count("data-absent") == 1
    assert addr(VALIDATORS[3]) in html  # the one who did not sign is named
    # 30 of 35 signed; more than two thirds is 24
    assert "30 of 35" in html and "(24)" in html and 'class="ok" data-quorum' in html


def test_transaction_shows_parties_amount_result_and_proof(site: TestClient,
                                                           chain: FakeChain) -> None:
    ok_id, failed_id = chain.tx_ids(2)[1], chain.tx_ids(2)[2]
    html = site.get(f"/explorer/tx/{ok_id}").text
    assert addr(ALICE) in html and addr(BOB) in html
    assert "2,500.50 USD" in html and "Applied" in html
    proof = chain.tx_proof(ok_id)
    assert proof is not None
    assert f'data-tx="{proof.tx_hex}"' in html and f'data-path="{" ".join(proof.path)}"' in html
    assert f'data-header="{proof.header["encoded"]}"' in html
    assert '<script src="/static/verify.js" defer></script>' in html
    failed = site.get(f"/explorer/tx/{failed_id}").text
    assert "Failed" in failed and "(<span class=\"mono\">" in failed
    assert explorer.result_code({"code": FAILED_CODE}) == "INSUFFICIENT_BALANCE" in failed
    # upper-case hex finds the same transaction
    assert site.get(f"/explorer/tx/{ok_id.upper()}").status_code == 200


def test_account_shows_balances_and_transactions(site: TestClient, chain: FakeChain) -> None:
    html = site.get(f"/explorer/account/{addr(ALICE)}").text
    assert 'data-balance="USD">9,844.17 USD' in html
    for tx_id in chain.tx_ids(2) + chain.tx_ids(4):
        assert tx_id in html  # alice is in each
    assert addr(ISSUER) in html


def test_validators_page(site: TestClient) -> None:
    html = site.get("/explorer/validators").text
    for v in VALIDATORS:
        assert f'data-validator="{addr(v)}"' in html
    assert html.count("Did not sign") == 1 and "24 of 35" in html
    assert "the node we read" in html


@pytest.mark.parametrize(("query", "target"), [
    ("2", "/explorer/block/2"),
    (" 4 ", "/explorer/block/4"),
])
def test_search_routes_heights(site: TestClient, query: str, target: str) -> None:
    r = site.get("/explorer/search", params={"q": query}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == target


def test_search_routes_hashes_and_addresses(site: TestClient, chain: FakeChain) -> None:
    def where(q: str) -> str:
        r = site.get("/explorer/search", params={"q": q}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return r.headers["location"]

    tx_id = chain.tx_ids(2)[0]
    assert where(tx_id) == f"/explorer/tx/{tx_id}"
    assert where(chain.blocks[3].header.hash().hex().upper()) == "/explorer/block/3"
    assert where(addr(BOB)) == f"/explorer/account/{addr(BOB)}"


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/explorer/search?q=hello", 422, "CHAIN_QUERY_INVALID"),
    ("/explorer/search?q=", 422, "CHAIN_QUERY_INVALID"),
    ("/explorer/search?q=" + "1" * 200, 422, "CHAIN_QUERY_INVALID"),
    ("/explorer/search?q=" + "ab" * 32, 404, "TX_NOT_FOUND"),
    ("/explorer/block/99", 404, "BLOCK_NOT_FOUND"),
    ("/explorer/block/0", 404, "BLOCK_NOT_FOUND"),
    ("/explorer/block/-1", 422, "CHAIN_QUERY_INVALID"),
    ("/explorer/block/%C2%B9", 422, "CHAIN_QUERY_INVALID"),  # "¹" is no height
    ("/explorer/block/99999999999999999999", 422, "CHAIN_QUERY_INVALID"),
    ("/explorer/tx/xyz", 422, "CHAIN_QUERY_INVALID"),
    ("/explorer/tx/" + "00" * 32, 404, "TX_NOT_FOUND"),
    ("/explorer/account/cNotAnAddress", 422, "CHAIN_QUERY_INVALID"),
])
def test_bad_input_gets_a_page_with_a_stable_code(site: TestClient, path: str, status: int,
                                                  code: str) -> None:
    for headers, language in (({}, "en"), (ZH, "zh-Hans")):
        r = site.get(path, headers=headers)
        assert r.status_code == status, r.text[:300]
        assert "text/html" in r.headers["content-type"]
        assert r.headers["content-language"] == language
        assert code_of(r.text) == code
        assert said(r.text, code, language)
        assert 'id="explorer-q"' in r.text  # the search box again, to try something else
        assert "Traceback" not in r.text


def said(page: str, code: str, language: str) -> bool:
    """Whether `page` gives the reason for `code` in `language` (the catalogue's words)."""
    words = i18n.Formats(language, "UTC").gettext(messages.BY_CODE[code])
    assert language == "en" or words != messages.BY_CODE[code], "untranslated"
    return escape(words) in page


def test_unknown_account_is_not_found(site: TestClient) -> None:
    from corridor.ledger import keys
    nobody = keys.encode_address(bytes(20))
    r = site.get(f"/explorer/account/{nobody}")
    assert r.status_code == 404 and code_of(r.text) == "ACCOUNT_NOT_FOUND"


def test_pages_in_chinese(site: TestClient, chain: FakeChain) -> None:
    for path in ("/explorer", "/explorer/block/2", f"/explorer/tx/{chain.tx_ids(2)[0]}",
                 f"/explorer/account/{addr(ALICE)}", "/explorer/validators"):
        r = site.get(path, headers=ZH)
        assert r.status_code == 200, path
        assert r.headers["content-language"] == "zh-Hans"
        assert "区块" in r.text, path
        assert "Latest blocks" not in r.text and "Transaction hash" not in r.text


def test_node_away_gets_a_clear_page(site: TestClient, chain: FakeChain) -> None:
    chain.away = True
    for path in ("/explorer", "/explorer/block/2", "/explorer/validators",
                 f"/explorer/account/{addr(ALICE)}", "/explorer/search?q=" + "ab" * 32):
        r = site.get(path)
        assert r.status_code == 503, path
        assert code_of(r.text) == "NODE_UNAVAILABLE"
        assert said(r.text, "NODE_UNAVAILABLE", "en")
    zh = site.get("/explorer", headers=ZH)
    assert zh.status_code == 503 and said(zh.text, "NODE_UNAVAILABLE", "zh-Hans")


def test_public_pages_are_rate_limited_per_address(site: TestClient,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_explorer, "READS_PER_MINUTE_MAX", 3)
    for _ in range(3):
        assert site.get("/explorer/validators").status_code == 200
    r = site.get("/explorer/block/2")
    assert r.status_code == 429 and code_of(r.text) == "RATE_LIMITED"
    other = site.get("/explorer/validators", headers={"x-forwarded-for": "203.0.113.9"})
    assert other.status_code == 429  # the forwarded address is not trusted by default


def test_every_operation_type_has_a_chinese_name() -> None:
    fmt = i18n.Formats("zh-Hans", "UTC")
    assert set(labels.CHAIN_OP) == {op.name.lower() for op in OpType}
    for name in labels.CHAIN_OP:
        assert not labels.chain_op(fmt, name).isascii(), name


def test_chain_amounts_are_exact_in_each_language() -> None:
    en, zh = i18n.Formats("en", "UTC"), i18n.Formats("zh-Hans", "UTC")
    assert en.chain_amount(123_456_789, "USD", 2) == "1,234,567.89 USD"
    assert en.chain_amount(100, "JPY", 0) == "100 JPY"
    assert zh.chain_amount(10**20 + 1, "CNY", 6) == "100,000,000,000,000.000001 CNY"
    assert explorer.quorum_of(35) == 24 and explorer.quorum_of(3) == 3
    assert explorer.quorum_of(4) == 3


@pytest.mark.parametrize(("route", "body"), [
    ("/v1/status", {"chain_id": "x", "height": 1}),  # no validators
    ("/v1/blocks", {"height": 1}),  # no list of blocks
    ("/v1/assets", {"assets": [{"code": "USD"}]}),
])
def test_the_client_refuses_a_malformed_node_reply(route: str, body: dict[str, Any]) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body if request.url.path == route else {})

    client = LedgerClient("http://node.invalid", transport=httpx.MockTransport(reply))
    calls = {"/v1/status": client.overview, "/v1/blocks": lambda: client.latest_headers(5),
             "/v1/assets": client.assets}
    with pytest.raises(PlatformError) as caught:
        calls[route]()
    assert caught.value.code == "NODE_BAD_REPLY"


def test_the_client_reads_absent_things_as_none() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "unknown_block"}})

    client = LedgerClient("http://node.invalid", transport=httpx.MockTransport(reply))
    assert client.block_detail(7) is None and client.certificate(7) is None
    assert client.block_height("ab" * 32) is None and client.tx_detail("ab" * 32) is None
