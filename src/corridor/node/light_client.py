"""A light client over a node's RPC: trusts nothing the node says until it verifies it.

Trust starts from a genesis document the user holds (`TrustedState.from_genesis`). To
verify a transaction or an account it fetches the proof, then the header and commit of the
proof's height from `/v1/headers/{height}`, checks the commit against the trusted validators
(`ledger.light.verify_header`), and only then the proof against that header. The header a
proof answer carries is ignored: a lying node could put anything there.

A node whose RPC is not `open` serves headers and transaction proofs to anyone in `public`
mode and everything else only with a client token (`token=`); the token proves the client to
the node, never the node's answers to the client.

Every failure (unreachable node, error answer, malformed JSON or bytes, wrong chain, forged
commit, bad proof) is a `LightClientError` with one line for the user and a stable code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from corridor.ledger import keys
from corridor.ledger.block import BlockHeader, Commit
from corridor.ledger.errors import DecodeError, Rejection
from corridor.ledger.genesis import parse_genesis
from corridor.ledger.light import TrustedState, verify_account, verify_header, verify_tx
from corridor.ledger.proofs import AccountProof, TxProof
from corridor.ledger.records import Account
from corridor.ledger.statetree import StateProof
from corridor.ledger.tx import HASH_LEN, SignedTransaction

TIMEOUT_S = 10.0
RESPONSE_BYTES_MAX = 4 * 1024 * 1024  # a header, commit or proof is a few KB; refuse floods
PATH_LEN_MAX = 64  # Merkle audit path entries (2**64 leaves is far beyond any block)


class LightClientError(Exception):
    """Why a verification failed: `code` is stable (`unreachable`, `unauthorized` (the node
    wants a client token, or another one), `rpc_error`, `malformed`, or a ledger RejectCode
    name such as `wrong_chain`, `insufficient_weight`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _rejected(r: Rejection) -> LightClientError:
    return LightClientError(r.code.name.lower(), r.message)


def _malformed(message: str) -> LightClientError:
    return LightClientError("malformed", f"malformed RPC answer: {message}")


def load_trust(genesis_path: Path) -> TrustedState:
    try:
        text = genesis_path.read_text()
    except OSError as exc:
        raise LightClientError("genesis", f"cannot read {genesis_path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LightClientError("genesis", f"{genesis_path} is not UTF-8 text") from None
    try:
        return TrustedState.from_genesis(parse_genesis(text))
    except DecodeError as exc:
        raise LightClientError("genesis", f"{genesis_path}: {exc.message}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedHeader:
    """A header whose commit certificate verified against the trusted validators."""

    header: BlockHeader
    commit: Commit | None  # None only for the trusted header itself (genesis)
    trusted: TrustedState


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedTx:
    at: VerifiedHeader
    index: int
    stx: SignedTransaction


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedAccount:
    at: VerifiedHeader
    address: bytes
    account: Account | None  # None: proven absent


def _field(body: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise _malformed(f"no field {name!r}")
    value = body[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _malformed(f"field {name!r} has the wrong type")
    return value


def _hex(body: Any, name: str) -> bytes:
    try:
        return bytes.fromhex(_field(body, name, str))
    except ValueError:
        raise _malformed(f"field {name!r} is not hex") from None


class LightClient:
    """Verifies what one node serves, from a trust root; holds the latest trusted header."""

    def __init__(self, rpc_url: str, trusted: TrustedState, *,
                 http: httpx.Client | None = None, token: str | None = None) -> None:
        self.trusted = trusted
        self.rpc_url = rpc_url
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._http = http or httpx.Client(base_url=rpc_url, timeout=TIMEOUT_S, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LightClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _get(self, path: str) -> Any:
        try:
            r = self._http.get(path)
        except httpx.HTTPError as exc:
            raise LightClientError(
                "unreachable", f"cannot reach the node at {self.rpc_url}: {exc}"
            ) from None
        if len(r.content) > RESPONSE_BYTES_MAX:
            raise _malformed(f"answer of {len(r.content)} bytes exceeds {RESPONSE_BYTES_MAX}")
        try:
            body = r.json()
        except ValueError:
            raise _malformed(f"{path} answered {r.status_code} with no JSON") from None
        if r.status_code == 401:
            raise LightClientError(
                "unauthorized", f"{path}: the node wants a client token (docs/node-rpc-access.md)"
            )
        if r.status_code != 200:
            message = body.get("message") if isinstance(body, dict) else None
            raise LightClientError(
                "rpc_error", f"{path}: the node answered {r.status_code}: {message or body}"
            )
        return body

    def header(self, height: int) -> VerifiedHeader:
        """The header at `height`, verified by its commit; moves the trust forward."""
        body = self._get(f"/v1/headers/{height}")
        try:
            header = BlockHeader.decode(_hex(_field(body, "header", dict), "encoded"))
            raw_commit = _field(body, "commit", (dict, type(None)))
            commit = None if raw_commit is None else Commit.decode(_hex(raw_commit, "encoded"))
        except DecodeError as exc:
            raise _malformed(f"header or commit of height {height}: {exc.message}") from None
        if header.height != height:
            raise _malformed(f"asked for height {height}, got a header of {header.height}")
        outcome = verify_header(self.trusted, header, commit)
        if isinstance(outcome, Rejection):
            raise _rejected(outcome)
        if outcome.height > self.trusted.height:
            self.trusted = outcome
        return VerifiedHeader(header=header, commit=commit, trusted=outcome)

    def verify_tx(self, tx_id: bytes) -> VerifiedTx:
        """That the transaction `tx_id` is in a block the trusted validators committed."""
        assert len(tx_id) == HASH_LEN
        body = self._get(f"/v1/txs/{tx_id.hex()}/proof")
        height, index = _field(body, "height", int), _field(body, "index", int)
        raw_path = _field(body, "path", list)
        if len(raw_path) > PATH_LEN_MAX or not 0 <= height < 2**64 or not 0 <= index < 2**32:
            raise _malformed("proof height, index or path out of range")
        try:
            path = tuple(bytes.fromhex(p) for p in raw_path)
        except (TypeError, ValueError):
            raise _malformed("proof path entries are not hex") from None
        if any(len(p) != HASH_LEN for p in path):
            raise _malformed("proof path entries are not 32-byte hashes")
        at = self.header(height)
        stx = verify_tx(at.header, TxProof(height, index, _hex(body, "tx"), path))
        if isinstance(stx, Rejection):
            raise _rejected(stx)
        if stx.tx_id != tx_id:
            raise LightClientError("bad_block", "the node proved another transaction")
        return VerifiedTx(at=at, index=index, stx=stx)

    def verify_account(self, address: bytes) -> VerifiedAccount:
        """An account's state (or absence) under a header the trusted validators committed."""
        body = self._get(f"/v1/accounts/{keys.encode_address(address)}/proof")
        height = _field(body, "height", int)
        if not 0 <= height < 2**64:
            raise _malformed("proof height out of range")
        raw_account = _field(body, "account", (str, type(None)))
        try:
            account_bytes = None if raw_account is None else bytes.fromhex(raw_account)
            state_proof = StateProof.decode(_hex(body, "proof"))
        except DecodeError as exc:  # before ValueError, its base class
            raise _malformed(f"state proof: {exc.message}") from None
        except ValueError:
            raise _malformed("account is not hex") from None
        at = self.header(height)
        got = verify_account(at.header, AccountProof(address, account_bytes, state_proof))
        if isinstance(got, Rejection):
            raise _rejected(got)
        return VerifiedAccount(at=at, address=address, account=got[1])
