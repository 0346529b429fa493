"""The node's HTTP JSON RPC (OpenAPI at /docs and /openapi.json).

Bad input never changes anything and always gets a 4xx with a stable error code:
{"error": {"code": "...", "message": "...", ...}}. Every request is bounded: body size,
batch size, page size. Who may call what is the node's access mode (`rpc_access`), checked by
one dependency of the whole app (`_access_guard`): a route is private unless PUBLIC_READS
lists it, so a new endpoint cannot leak by being forgotten.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.block import Block
from corridor.ledger.chain import verify_first
from corridor.ledger.errors import DecodeError
from corridor.ledger.evidence import EVIDENCE_BYTES, DuplicateVoteEvidence
from corridor.ledger.proofs import prove_account, prove_tx
from corridor.ledger.results import TxResult
from corridor.ledger.tx import SignedTransaction, decode_transaction
from corridor.node import rpc_statuses, views
from corridor.node.core import NodeCore
from corridor.node.events import EventHub, sse
from corridor.node.limits import (
    EVENTS_HEARTBEAT_S,
    RPC_BATCH_MAX,
    RPC_BLOCKS_PAGE_MAX,
    RPC_BODY_BYTES_MAX,
    RPC_EVIDENCE_PAGE_MAX,
    RPC_PAGE_MAX,
    RPC_VERIFY_OFF_LOOP_MIN,
)
from corridor.node.rpc_access import RpcAccess

HEIGHT_MAX = 2**63 - 1  # SQLite's integer range; no height above it can exist

# What `public` mode serves to anyone (GET only): the chain's commitments and what a light
# client needs to check them, nothing that lists or reads an account. A transaction is read
# by its id, a 256-bit hash known only to whoever saw the transaction (its parties): reading
# it enumerates nothing, and lets a payee verify a payment (`corridor light verify-tx`).
# Every other route (accounts, their history and proofs, blocks' contents, submissions, the
# event stream, and any route added later) needs a token.
PUBLIC_READS = frozenset({
    "/v1/status",
    "/v1/headers/{height}",
    "/v1/blocks",  # the latest headers, not their transactions
    "/v1/assets",
    "/v1/assets/{code}/{issuer}",
    "/v1/evidence",
    "/v1/txs/{tx_id}",
    "/v1/txs/{tx_id}/proof",
})


class NodeHandle(Protocol):
    """What the RPC needs from the running node."""

    core: NodeCore
    events: EventHub

    def transactions_arrived(self) -> None: ...

    def evidence_arrived(self) -> None: ...


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class SubmitRequest(BaseModel):
    """One transaction (`tx`) or a batch (`txs`), each the hex of its canonical encoding."""

    tx: str | None = Field(default=None, max_length=2 * 64 * 1024)
    txs: list[Annotated[str, Field(max_length=2 * 64 * 1024)]] | None = Field(
        default=None, max_length=RPC_BATCH_MAX
    )


class EvidenceRequest(BaseModel):
    """Evidence of double signing: the hex of its canonical encoding (two votes)."""

    evidence: str = Field(max_length=2 * EVIDENCE_BYTES)


def _hex(value: str, what: str, length: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ApiError(400, "bad_hex", f"{what} is not hexadecimal") from None
    if length is not None and len(raw) != length:
        raise ApiError(400, "bad_hex", f"{what} must be {length} bytes")
    return raw


def _address(text: str) -> bytes:
    try:
        return keys.decode_address(text)
    except DecodeError as exc:
        raise ApiError(400, "bad_address", exc.message) from None


class BodyLimit:
    """Refuses oversized or unsized request bodies before anything reads them.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which wraps every request (and
    every SSE stream) in extra task machinery: about a third of the node's time under
    batched load, measured with py-spy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            error = None
            if length is not None and (not length.isdigit() or int(length) > RPC_BODY_BYTES_MAX):
                error = 413, "body_too_large", f"at most {RPC_BODY_BYTES_MAX} bytes"
            elif length is None and scope["method"] in ("POST", "PUT", "PATCH"):
                error = 411, "length_required", "send a Content-Length header"
            if error is not None:
                status, code, message = error
                body = {"error": {"code": code, "message": message}}
                await JSONResponse(body, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _decode_submitted(text: str) -> SignedTransaction | dict[str, Any]:
    """A submitted transaction's hex, decoded; or the error view of why it is not one."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return {"code": "bad_hex", "message": "not hexadecimal"}
    try:
        return decode_transaction(raw)
    except DecodeError as exc:
        return views.rejection_view(exc.rejection())


def resume_height(last_event_id: str | None, from_height: int | None, head: int) -> int:
    """The first height an event stream sends: after the client's Last-Event-ID (ASCII
    digits, or it is ignored), else `from_height`, else the next block."""
    if last_event_id is not None and last_event_id.isascii() and last_event_id.isdigit():
        return min(int(last_event_id), HEIGHT_MAX - 1) + 1
    return from_height or head + 1


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ClientToken",
    description="A client token of this node (`corridor node token new`); which endpoints "
    "need one depends on the node's access mode (docs/node-rpc-access.md).",
)


UNAUTHORIZED_RESPONSE: dict[str, Any] = {
    "description": "A client token is needed (`token_required`) or the one sent is not valid "
    "(`bad_token`); see docs/node-rpc-access.md",
}


def _access_guard(access: RpcAccess) -> Any:
    """The dependency every route runs: lets the request through or raises a 401."""

    async def guard(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is not None:  # a wrong token is refused even where none is needed
            if not access.accepts(credentials.credentials):
                raise ApiError(401, "bad_token", "the client token is not valid for this node")
            return
        route = request.scope.get("route")
        public = getattr(route, "path", None) in PUBLIC_READS and request.method == "GET"
        if access.mode == "public" and public:
            return
        raise ApiError(
            401,
            "token_required",
            f"this node's RPC is {access.mode}: send Authorization: Bearer <client token>",
        )

    return guard


def create_app(node: NodeHandle, access: RpcAccess | None = None) -> FastAPI:
    """The RPC app of `node`. `access` defaults to `public` mode with no tokens: what is not
    public chain data is refused until the caller gives the node's real setting."""
    access = access or RpcAccess()
    app = FastAPI(
        title="Corridor node RPC",
        version="1",
        description="Submit transactions, follow their status, read accounts, blocks and proofs."
        f" Access mode: {access.mode} (docs/node-rpc-access.md).",
        dependencies=[] if access.mode == "open" else [Depends(_access_guard(access))],
        responses={} if access.mode == "open" else {401: UNAUTHORIZED_RESPONSE},
    )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        body = {"code": exc.code, "message": exc.message, **exc.extra}
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": body}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        body = {"code": "invalid_request", "message": "the request is not valid", "fields": fields}
        return JSONResponse({"error": body}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals (a body that is not UTF-8 JSON: 400) in the same shape.
        code = "bad_request" if exc.status_code == 400 else f"http_{exc.status_code}"
        body = {"code": code, "message": str(exc.detail)}
        return JSONResponse({"error": body}, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(BodyLimit)

    core = node.core
    verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify")

    @app.post("/v1/txs", summary="Submit one transaction or a batch")
    async def submit(req: SubmitRequest) -> dict[str, Any]:
        if (req.tx is None) == (req.txs is None):
            raise ApiError(400, "invalid_request", "give exactly one of 'tx' or 'txs'")
        raws = [req.tx] if req.tx is not None else req.txs or []
        decoded = [_decode_submitted(text) for text in raws]
        stxs = [d for d in decoded if isinstance(d, SignedTransaction)]
        verified: set[bytes] = set()
        if len(stxs) >= RPC_VERIFY_OFF_LOOP_MIN:
            # The C verifier releases the GIL: a batch's signatures are checked on another
            # core while the loop admits, builds and commits. The mempool then trusts exactly
            # these ids; a tx whose signature failed here is verified (and refused) there.
            # One verifier thread for all requests: on two cores, several would only take
            # the loop's core from it.
            verified = await asyncio.get_running_loop().run_in_executor(
                verifier, verify_first, stxs, frozenset()
            )
        now_ms = int(time.time() * 1000)
        out: list[dict[str, Any]] = []
        accepted = 0
        for i, item in enumerate(decoded):
            entry: dict[str, Any] = {"index": i}
            if isinstance(item, SignedTransaction):
                rejection = core.submit_decoded(
                    item, now_ms, signatures_verified=item.tx_id in verified
                )
                entry.update(accepted=rejection is None, tx_id=item.tx_id.hex())
                if rejection is not None:
                    entry["error"] = views.rejection_view(rejection)
                else:
                    accepted += 1
            else:
                entry.update(accepted=False, tx_id=None, error=item)
            out.append(entry)
        if accepted:
            node.transactions_arrived()
        if req.tx is not None:
            single = out[0]
            if not single["accepted"]:
                error: dict[str, Any] = single["error"]
                raise ApiError(
                    400,
                    error["code"],
                    error["message"],
                    tx_id=single["tx_id"],
                    permanent=error.get("permanent", True),
                )
            return single
        return {"results": out, "accepted": accepted}

    @app.get("/v1/txs/{tx_id}", summary="Status and result of a transaction")
    async def tx_status(tx_id: str) -> dict[str, Any]:
        status = core.tx_status(_hex(tx_id, "tx_id", 32))
        body: dict[str, Any] = {"tx_id": tx_id.lower(), "status": status.status}
        if status.status == "committed":
            block = core.blocks.block(status.height)
            assert block is not None
            body.update(
                height=status.height,
                index=status.index,
                transaction=views.tx_view(block.txs[status.index]),
            )
            if status.result is not None:
                body["result"] = views.result_view(status.result)
        elif status.status == "rejected" and status.rejection is not None:
            body["error"] = views.rejection_view(status.rejection)
        elif status.status == "unknown":
            raise ApiError(404, "unknown_tx", "no such transaction (never seen or forgotten)")
        return body

    @app.get("/v1/txs/{tx_id}/proof", summary="Merkle proof that a transaction is in its block")
    async def tx_proof(tx_id: str) -> dict[str, Any]:
        where = core.blocks.locate_tx(_hex(tx_id, "tx_id", 32))
        if where is None:
            raise ApiError(404, "unknown_tx", "the transaction is not committed")
        block = core.blocks.block(where[0])
        assert block is not None
        proof = prove_tx(block, where[1])
        return {
            "height": proof.height,
            "index": proof.index,
            "tx": proof.tx_bytes.hex(),
            "path": [p.hex() for p in proof.path],
            "header": views.header_view(block.header),
        }

    @app.get("/v1/accounts/{address}", summary="Account state: balances, sequence, signers")
    async def account(address: str) -> dict[str, Any]:
        acct = core.account(_address(address))
        if acct is None:
            raise ApiError(404, "unknown_account", "no such account")
        return {
            "height": core.head.height,
            **views.account_view(acct),
            "next_sequence": core.mempool.next_sequence(acct),
        }

    @app.get("/v1/accounts/{address}/proof", summary="Merkle proof of an account's state")
    async def account_proof(address: str) -> dict[str, Any]:
        raw = _address(address)
        proof = prove_account(core.state, core.tree, raw)
        return {
            "height": core.head.height,
            "header": views.header_view(core.head),
            "account": None if proof.account_bytes is None else proof.account_bytes.hex(),
            "proof": proof.proof.encode().hex(),
        }

    @app.get("/v1/accounts/{address}/txs", summary="Transactions touching an account (paged)")
    async def account_txs(
        address: str,
        limit: Annotated[int, Query(ge=1, le=RPC_PAGE_MAX)] = 20,
        # height:index of a committed transaction; heights start at 1 (the store refuses
        # a cursor at 0 as a bug: it was a 500, found by the fuzzer)
        before: Annotated[str | None, Query(pattern=r"^[1-9]\d*:\d+$")] = None,
    ) -> dict[str, Any]:
        raw = _address(address)
        cursor = None
        if before is not None:
            h, i = before.split(":")
            cursor = (min(int(h), HEIGHT_MAX), min(int(i), HEIGHT_MAX))
        rows = core.blocks.account_txs(raw, before=cursor, limit=limit)
        items = []
        for height, index in rows:
            block = core.blocks.block(height)
            assert block is not None
            items.append(
                {
                    "height": height,
                    "index": index,
                    "time_ms": block.header.time_ms,
                    **views.tx_view(block.txs[index]),
                }
            )
        nxt = f"{rows[-1][0]}:{rows[-1][1]}" if len(rows) == limit else None
        return {"items": items, "next": nxt}

    def _block_at(ref: str) -> int:
        if ref.isascii() and ref.isdigit():  # "¹" is a digit to isdigit, not to int()
            height = int(ref)
            if height > HEIGHT_MAX:
                raise ApiError(404, "unknown_block", f"no block at height {ref}")
            return height
        found = core.blocks.height_of(_hex(ref, "block hash", 32))
        if found is None:
            raise ApiError(404, "unknown_block", "no block with that hash")
        return found

    @app.get("/v1/blocks", summary="Latest blocks, newest first")
    async def latest_blocks(
        limit: Annotated[int, Query(ge=1, le=RPC_BLOCKS_PAGE_MAX)] = 10,
    ) -> dict[str, Any]:
        top = core.head.height
        headers = []
        for h in range(top, max(0, top - limit), -1):
            header = core.header(h)
            assert header is not None
            headers.append(views.header_view(header))
        return {"height": top, "blocks": headers}

    @app.get("/v1/blocks/{ref}", summary="A block by height or hash, with results")
    async def block(ref: str) -> dict[str, Any]:
        height = _block_at(ref)
        blk = core.blocks.block(height) if height else None
        if blk is None:
            raise ApiError(404, "unknown_block", f"no block at height {height}")
        return views.block_view(blk, core.blocks.results(height))

    @app.get("/v1/headers/{height}", summary="A header with the commit that finalised it")
    async def header(height: Annotated[int, FastApiPath(ge=0, le=HEIGHT_MAX)]) -> dict[str, Any]:
        hdr = core.header(height)
        if hdr is None:
            raise ApiError(404, "unknown_block", f"no block at height {height}")
        cert = core.blocks.commit(height) if height else None
        return {
            "header": views.header_view(hdr),
            "commit": None if cert is None else views.commit_view(cert),
        }

    @app.get("/v1/assets", summary="Assets with their issuers and outstanding supply")
    async def assets() -> dict[str, Any]:
        infos = sorted(core.state.assets.values(), key=lambda i: (i.asset.code, i.asset.issuer))
        return {"height": core.head.height, "assets": [views.asset_view(i) for i in infos]}

    @app.get("/v1/assets/{code}/{issuer}", summary="One asset's supply")
    async def asset(code: str, issuer: str) -> dict[str, Any]:
        info = core.state.asset(Asset(code, _address(issuer)))
        if info is None:
            raise ApiError(404, "unknown_asset", "no such asset")
        return views.asset_view(info)

    @app.post("/v1/evidence", summary="Submit evidence of double signing to be recorded")
    async def submit_evidence(req: EvidenceRequest) -> dict[str, Any]:
        try:
            evidence = DuplicateVoteEvidence.decode(_hex(req.evidence, "evidence"))
        except DecodeError as exc:
            raise ApiError(400, exc.code.name.lower(), exc.message) from None
        rejection = core.add_evidence(evidence)
        if rejection is not None:
            view = views.rejection_view(rejection)
            raise ApiError(400, view["code"], view["message"], permanent=view["permanent"])
        node.evidence_arrived()  # worth a block, and worth telling the other validators
        return {"accepted": True, **views.evidence_view(evidence)}

    @app.get("/v1/evidence", summary="Recorded double signings, oldest first (paged)")
    async def recorded_evidence(
        limit: Annotated[int, Query(ge=1, le=RPC_EVIDENCE_PAGE_MAX)] = 20,
        after: Annotated[str | None, Query(pattern=r"^\d+:[0-9a-f]{64}$")] = None,
    ) -> dict[str, Any]:
        offences = core.offences()  # bounded growth: BLOCK_EVIDENCE_MAX per block
        if after is not None:
            h, evidence_hash = after.split(":")
            cursor = (min(int(h), HEIGHT_MAX), bytes.fromhex(evidence_hash))
            offences = [o for o in offences if (o.recorded_height, o.evidence_hash) > cursor]
        page = offences[:limit]
        nxt = None
        if len(offences) > limit:
            nxt = f"{page[-1].recorded_height}:{page[-1].evidence_hash.hex()}"
        return {
            "height": core.head.height,
            "items": [views.offence_view(o) for o in page],
            "next": nxt,
        }

    @app.get("/v1/status", summary="Chain, height, mempool and validators")
    async def status() -> dict[str, Any]:
        return {
            "chain_id": core.genesis.chain_id,
            "height": core.head.height,
            "latest_hash": core.head.hash().hex(),
            "latest_time_ms": core.head.time_ms,
            "state_root": core.head.state_root.hex(),
            "mempool": {"txs": len(core.mempool), "bytes": core.mempool.size_bytes},
            "validators": [
                {
                    "public_key": keys.encode_public_key(v.public_key),
                    "power": v.power,
                    "address": keys.encode_address(v.address),
                }
                for v in core.genesis.validators.validators
            ],
            "validator": None if core.key is None else keys.encode_address(core.key.address),
        }

    @app.get("/v1/events", summary="Server-sent events: blocks and results, resumable")
    async def events(
        request: Request,
        from_height: Annotated[int | None, Query(ge=1, le=HEIGHT_MAX)] = None,
    ) -> StreamingResponse:
        start = resume_height(request.headers.get("last-event-id"), from_height,
                              core.head.height)

        async def stream() -> AsyncIterator[str]:
            nxt = start
            while not await request.is_disconnected():
                while nxt <= node.events.height:
                    text = node.events.cached_text(nxt)
                    if text is None:
                        blk: Block | None
                        results: tuple[TxResult, ...] | None
                        recent = node.events.recent_block(nxt)
                        if recent is not None:
                            blk, results = recent
                        else:
                            blk, results = core.blocks.block(nxt), core.blocks.results(nxt)
                        if blk is None:
                            break
                        body = views.block_view(blk, results)
                        body["dropped"] = [
                            {"tx_id": t.hex(), "error": views.rejection_view(r)}
                            for t, r in node.events.drops(nxt)
                        ]
                        text = sse("block", nxt, json.dumps(body, separators=(",", ":")))
                        node.events.cache_text(nxt, text)
                    yield text
                    nxt += 1
                if not await node.events.wait_beyond(nxt - 1, EVENTS_HEARTBEAT_S):
                    yield ": heartbeat\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    rpc_statuses.install(app)  # every status each operation can answer, in its OpenAPI
    return app
