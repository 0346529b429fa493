"""The audit trail's hash chain (requirements R8, L12): each entry commits to the one
before it, so editing, deleting or reordering any entry breaks every later hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    seq: int
    at_ms: int
    actor_id: str | None  # None for the system itself
    actor_kind: str  # "customer" | "staff" | "system" | "anonymous"
    action: str  # dotted verb, e.g. "kyc.decide", "auth.login"
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str
    prev_hash: str
    hash: str


def entry_hash(
    *,
    seq: int,
    at_ms: int,
    actor_id: str | None,
    actor_kind: str,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    ip: str,
    prev_hash: str,
) -> str:
    middle = body_middle(at_ms=at_ms, actor_id=actor_id, actor_kind=actor_kind, action=action,
                         object_type=object_type, object_id=object_id, before=before,
                         after=after, ip=ip)
    return hashlib.sha256(linked_body(seq, middle, prev_hash).encode()).hexdigest()


def body_middle(*, at_ms: int, actor_id: str | None, actor_kind: str, action: str,
                object_type: str, object_id: str, before: dict[str, Any] | None,
                after: dict[str, Any] | None, ip: str) -> str:
    """The hashed body without its two chain fields (seq first, prev_hash last): what the
    database needs to link an entry itself (adapters/audit_sql.py builds the same bytes:
    `[` seq `,` middle `,"` prev_hash `"]`)."""
    whole = json.dumps(
        [at_ms, actor_id, actor_kind, action, object_type, object_id, before, after, ip],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return whole[1:-1]


def linked_body(seq: int, middle: str, prev_hash: str) -> str:
    """The JSON array [seq, at_ms, ..., ip, prev_hash] the entry's hash is taken over (a
    hex digest's JSON is the digest in quotes, as the database writes it)."""
    return f"[{int(seq)},{middle},{json.dumps(prev_hash, ensure_ascii=False)}]"


def verify_chain(entries: list[AuditEntry], prev_hash: str = GENESIS_HASH,
                 first_seq: int = 1) -> str | None:
    """None if `entries` (in seq order) form an unbroken chain, else what is wrong."""
    expect_seq = first_seq
    for e in entries:
        if e.seq != expect_seq:
            return f"entry {expect_seq} is missing (found {e.seq})"
        if e.prev_hash != prev_hash:
            return f"entry {e.seq} does not link to entry {e.seq - 1}"
        fields = {f.name: getattr(e, f.name) for f in dataclasses.fields(e) if f.name != "hash"}
        if entry_hash(**fields) != e.hash:
            return f"entry {e.seq} was altered"
        prev_hash = e.hash
        expect_seq += 1
    return None
