"""A small HTTP client of a node's RPC (implements the services' `LedgerNode` port).

The platform never imports the node: it speaks the same HTTP JSON any client does
(`POST /v1/txs`, `GET /v1/txs/{id}`, `GET /v1/txs/{id}/proof`, `GET /v1/accounts/{address}`,
`GET /v1/status`, `GET /v1/blocks/{height}`), with the node's client token when the
settings give one. It is the explorer's `ChainReader` too (`GET /v1/blocks`,
`GET /v1/headers/{height}`, `GET /v1/accounts/{address}/txs`, `GET /v1/assets`).
An unreachable node raises PlatformError(UNAVAILABLE, NODE_UNAVAILABLE), one answering in a
way this client does not expect PlatformError(UNAVAILABLE, NODE_BAD_REPLY);
the chain's refusals come back as `Refusal` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from corridor.ledger.errors import RejectCode
from corridor.platform.domain.errors import Err, PlatformError
from corridor.platform.services.ledger_port import (
    BlockOutcomes,
    ChainAccount,
    ChainAsset,
    ChainBlock,
    ChainHolding,
    ChainOverview,
    ChainStatus,
    ChainTx,
    ChainValidator,
    Refusal,
    TxInclusion,
    TxOutcome,
    TxState,
    TxStatus,
)

NODE_TIMEOUT_S = 5.0
NODE_REPLY_BYTES_MAX = 4 * 1024 * 1024


def node_headers(token: str) -> dict[str, str]:
    """The node's client token as a bearer credential (none when empty)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def unavailable(message: str) -> PlatformError:
    return Err.NODE_UNAVAILABLE.error(message)


def _refusal(err: dict[str, Any]) -> Refusal:
    op = err.get("operation")
    return Refusal(
        code=str(err.get("code", "unknown")).upper(),
        message=str(err.get("message", ""))[:500],
        permanent=bool(err.get("permanent", True)),
        op_index=op if isinstance(op, int) else None,
    )


class LedgerClient:
    def __init__(self, url: str, *, timeout_s: float = NODE_TIMEOUT_S,
                 transport: httpx.BaseTransport | None = None, token: str = "") -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport,
                                  headers=node_headers(token))

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        try:
            r = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise unavailable(f"the node at {self.url} is not reachable ({type(exc).__name__})"
                              ) from None
        if len(r.content) > NODE_REPLY_BYTES_MAX or r.status_code >= 500:
            raise unavailable(f"the node at {self.url} answered {r.status_code}")
        try:
            data = r.json()
        except ValueError:
            raise unavailable(f"the node at {self.url} answered without JSON") from None
        if not isinstance(data, dict):
            raise unavailable(f"the node at {self.url} sent an unexpected answer")
        return r.status_code, data

    def _error(self, status: int, data: dict[str, Any]) -> PlatformError:
        """A reply this client does not expect: the node is not one it can work with."""
        code = _error_code(data)
        return Err.NODE_BAD_REPLY.error(
            f"the node at {self.url} answered {status} {code}")

    def status(self) -> ChainStatus:
        code, data = self._call("GET", "/v1/status")
        if code != 200:
            raise self._error(code, data)
        return ChainStatus(chain_id=str(data["chain_id"]), height=int(data["height"]),
                           latest_time_ms=int(data.get("latest_time_ms", 0)))

    def account(self, address: str) -> ChainAccount | None:
        code, data = self._call("GET", f"/v1/accounts/{address}")
        if code == 404 and _error_code(data) == "unknown_account":
            return None
        if code != 200:
            raise self._error(code, data)
        holdings = tuple(
            ChainHolding(code=str(h["code"]), issuer=str(h["issuer"]),
                         balance_minor=int(h["balance"]), authorised=bool(h["authorised"]),
                         frozen=bool(h["frozen"]))
            for h in data.get("balances", ())
        )
        return ChainAccount(address=str(data["address"]), sequence=int(data["sequence"]),
                            holdings=holdings)

    def submit(self, tx_hex: str) -> Refusal | None:
        code, data = self._call("POST", "/v1/txs", {"tx": tx_hex})
        if code == 200:
            return None
        if code == 400 and isinstance(data.get("error"), dict):
            return _refusal(data["error"])
        raise self._error(code, data)

    def submit_many(self, txs_hex: Sequence[str]) -> list[Refusal | None]:
        if not txs_hex:
            return []
        code, data = self._call("POST", "/v1/txs", {"txs": list(txs_hex)})
        results = data.get("results")
        if code != 200 or not isinstance(results, list) or len(results) != len(txs_hex):
            raise self._error(code, data)
        return [None if r.get("accepted") else _refusal(r.get("error") or {})
                for r in results]

    def block(self, height: int) -> BlockOutcomes | None:
        code, data = self._call("GET", f"/v1/blocks/{height}")
        if code == 404:
            return None
        if code != 200:
            raise self._error(code, data)
        return block_outcomes(height, data)

    def tx_state(self, tx_id: str) -> TxState:
        code, data = self._call("GET", f"/v1/txs/{tx_id}")
        if code == 404:
            return TxState(status=TxStatus.UNKNOWN)
        if code != 200:
            raise self._error(code, data)
        try:
            status = TxStatus(str(data.get("status")))
        except ValueError:
            raise self._error(code, data) from None  # not an answer this client understands
        if status is TxStatus.COMMITTED:
            result = data.get("result") or {"code": "success"}
            ok = result.get("code") == "success"
            refusal = None if ok else Refusal(
                code=_code_name(result.get("code")), message="failed in its block",
                permanent=True, op_index=None)
            return TxState(status=status, success=ok, height=int(data["height"]),
                           refusal=refusal)
        if status is TxStatus.REJECTED:
            return TxState(status=status, refusal=_refusal(data.get("error") or {}))
        return TxState(status=status)

    def tx_proof(self, tx_id: str) -> TxInclusion | None:
        code, data = self._call("GET", f"/v1/txs/{tx_id}/proof")
        if code == 404:
            return None
        if code != 200:
            raise self._error(code, data)
        try:
            return TxInclusion(height=int(data["height"]), index=int(data["index"]),
                               tx_hex=str(data["tx"]), path=tuple(str(p) for p in data["path"]),
                               header=dict(data["header"]))
        except (KeyError, TypeError, ValueError):
            raise unavailable(f"the node at {self.url} sent a malformed proof") from None

    # --- the explorer's reads (ChainReader) ---------------------------------------------

    def _ok(self, path: str) -> dict[str, Any] | None:
        """The node's 200 answer at `path`; None for its 404."""
        code, data = self._call("GET", path)
        if code == 404:
            return None
        if code != 200:
            raise self._error(code, data)
        return data

    def overview(self) -> ChainOverview:
        data = self._ok("/v1/status")
        if data is None:
            raise self._malformed("status")
        try:
            validators = tuple(
                ChainValidator(address=str(v["address"]), public_key=str(v["public_key"]),
                               power=int(v["power"])) for v in data["validators"])
            return ChainOverview(
                chain_id=str(data["chain_id"]), height=int(data["height"]),
                latest_hash=str(data["latest_hash"]),
                latest_time_ms=int(data.get("latest_time_ms", 0)),
                mempool_txs=int(data["mempool"]["txs"]), validators=validators,
                node_validator=None if data.get("validator") is None else str(data["validator"]))
        except (KeyError, TypeError, ValueError):
            raise self._malformed("status") from None

    def latest_headers(self, limit: int) -> tuple[dict[str, Any], ...]:
        data = self._ok(f"/v1/blocks?limit={int(limit)}")
        if data is None or not isinstance(data.get("blocks"), list):
            raise self._malformed("list of blocks")
        return tuple(dict(h) for h in data["blocks"] if isinstance(h, dict))

    def block_detail(self, height: int) -> ChainBlock | None:
        data = self._ok(f"/v1/blocks/{int(height)}")
        if data is None:
            return None
        try:
            return ChainBlock(header=dict(data["header"]),
                              txs=tuple(dict(t) for t in data["transactions"]),
                              commit=self.certificate(height))
        except (KeyError, TypeError, ValueError):
            raise self._malformed(f"block {height}") from None

    def certificate(self, height: int) -> dict[str, Any] | None:
        signed = self._ok(f"/v1/headers/{int(height)}")  # a public read, without the block
        commit = None if signed is None else signed.get("commit")
        return dict(commit) if isinstance(commit, dict) else None

    def block_height(self, block_hash: str) -> int | None:
        data = self._ok(f"/v1/blocks/{block_hash}")
        if data is None:
            return None
        try:
            return int(data["header"]["height"])
        except (KeyError, TypeError, ValueError):
            raise self._malformed("block") from None

    def tx_detail(self, tx_id: str) -> ChainTx | None:
        data = self._ok(f"/v1/txs/{tx_id}")
        if data is None or data.get("status") != "committed":
            return None
        try:
            return ChainTx(height=int(data["height"]), index=int(data["index"]),
                           tx=dict(data["transaction"]),
                           result=dict(data.get("result") or {"code": "success"}))
        except (KeyError, TypeError, ValueError):
            raise self._malformed(f"transaction {tx_id}") from None

    def account_txs(self, address: str, limit: int) -> tuple[dict[str, Any], ...]:
        data = self._ok(f"/v1/accounts/{address}/txs?limit={int(limit)}")
        if data is None or not isinstance(data.get("items"), list):
            raise self._malformed("account history")
        return tuple(dict(t) for t in data["items"] if isinstance(t, dict))

    def assets(self) -> tuple[ChainAsset, ...]:
        data = self._ok("/v1/assets")
        if data is None:
            raise self._malformed("list of assets")
        try:
            return tuple(ChainAsset(code=str(a["code"]), issuer=str(a["issuer"]),
                                    decimals=int(a["decimals"]), supply_minor=int(a["supply"]))
                         for a in data["assets"])
        except (KeyError, TypeError, ValueError):
            raise self._malformed("list of assets") from None

    def _malformed(self, what: str) -> PlatformError:
        return Err.NODE_BAD_REPLY.error(f"the node at {self.url} sent a malformed {what}")


def block_outcomes(height: int, view: dict[str, Any]) -> BlockOutcomes:
    """A block as the node shows it (`GET /v1/blocks/{h}`, or an event of its stream)."""
    try:
        txs = []
        for tx in view["transactions"]:
            result = tx.get("result") or {"code": "success"}
            ok = result.get("code") == "success"
            txs.append(TxOutcome(tx_id=str(tx["tx_id"]), success=ok,
                                 code=None if ok else _code_name(result.get("code"))))
        return BlockOutcomes(height=height, time_ms=int(view["header"]["time_ms"]),
                             txs=tuple(txs))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise unavailable(f"the node sent a malformed block at height {height}") from None


def _error_code(data: dict[str, Any]) -> str:
    err = data.get("error")
    return str(err.get("code", "")) if isinstance(err, dict) else ""


def _code_name(code: object) -> str:
    if isinstance(code, int) and code in RejectCode._value2member_map_:
        return RejectCode(code).name
    return str(code).upper()
