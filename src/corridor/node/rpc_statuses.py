"""The node RPC's rules for what statuses an operation can answer, derived from what it
takes (corridor/openapi_statuses.py walks the routes with them; a security dependency,
e.g. an access token, adds 401/403 and its scheme by itself)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from corridor.openapi_statuses import Operation, Rule, document

DESCRIPTIONS = {
    400: "Malformed input (not hex, not an address) or a transaction the node rejected; "
         "`error.permanent` says whether retrying can help.",
    401: "No valid access token.",
    403: "This client may not do this.",
    404: "No such transaction, account, block or asset.",
    411: "A body without a Content-Length header.",
    413: "The body is larger than allowed.",
    422: "The request is not valid; `error.fields` lists each problem.",
}


class RpcErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. tx_id, permanent, fields

    code: str
    message: str


class RpcError(BaseModel):
    """The body of every error response of the node RPC."""

    error: RpcErrorDetail


def _input(op: Operation) -> Iterable[int]:
    return (422,) if op.takes_input else ()


def _names_a_thing(op: Operation) -> Iterable[int]:
    """A path parameter is parsed (hex, address: 400) and may name nothing (404)."""
    return (400, 404) if op.path_params else ()


def _body(op: Operation) -> Iterable[int]:
    """A body is bounded and needs its length (BodyLimit), and what it carries may be
    rejected (400)."""
    return (400, 411, 413, 422) if op.body else ()


RULES: tuple[Rule, ...] = (_input, _names_a_thing, _body)
SCHEMES = {"bearer": {"type": "http", "scheme": "bearer"}}


def install(app: FastAPI) -> None:
    document(app, rules=RULES, error_model=RpcError, descriptions=DESCRIPTIONS,
             schemes=SCHEMES)
