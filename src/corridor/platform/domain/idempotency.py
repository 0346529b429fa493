"""Idempotency keys (issue 15): every creating request carries an `Idempotency-Key`
header, so a retry returns the first answer and never acts twice.

Payments, deposits and withdrawals keep the key on their own record. Requests whose
effect is not one new record of the caller's (a quote, a refund request, a staff
decision) are remembered as an `IdempotentRequest`: who asked, under which key, for which
operation and request, and the id of the record that answered - written in the same
transaction as the effect, so a remembered request always did happen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping

from corridor.platform.domain.errors import Err, PlatformError, Problems
from corridor.platform.domain.rails import IDEMPOTENCY_KEY_LEN_MAX

HEADER = "Idempotency-Key"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class IdempotentRequest:
    """One request made under a key: a retry (same actor, key, operation and request)
    gets `result_id`'s record again; another request under the key is refused."""

    id: str
    actor_id: str
    key: str
    operation: str
    request_hash: str
    result_id: str
    created_ms: int


_MISSING = "missing: every creating request carries one (any unique text; a retry sends " \
           "the same)"
_INVALID = f"invalid: 1-{IDEMPOTENCY_KEY_LEN_MAX} printable characters"


def check_key(raw: str | None, problems: Problems | None = None) -> str:
    """The key of a creating request. Missing and malformed are different mistakes with
    different codes: a client that never sends the header, and one that sends it wrong.
    With `problems`, the mistake joins the request's other problems (refuse them with
    `raise_if_any`); without, it is refused now."""
    key = (raw or "").strip()
    why = (_MISSING if not key else
           _INVALID if len(key) > IDEMPOTENCY_KEY_LEN_MAX or not key.isprintable() else None)
    if why is not None:
        collected = Problems() if problems is None else problems
        collected.add(HEADER, why)
        if problems is None:
            raise_if_any(collected)
    return key


def raise_if_any(problems: Problems) -> None:
    """Refuses the request if it has problems: every one in `fields`, and a code that
    names the key's mistake when there is one (IDEMPOTENCY_KEY_MISSING or _INVALID, the
    one a client fixes in its code), else INVALID_FIELDS."""
    why = problems.fields.get(HEADER)
    if why is None:
        problems.raise_if_any()
    elif why == _MISSING:
        problems.raise_if_any(Err.IDEMPOTENCY_KEY_MISSING, f"the {HEADER} header is missing")
    else:
        problems.raise_if_any(Err.IDEMPOTENCY_KEY_INVALID, f"the {HEADER} header is invalid")


def request_hash(request: Mapping[str, object]) -> str:
    """A digest of what was asked (canonical JSON), to tell a retry from another request."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def reused() -> PlatformError:
    return Err.IDEMPOTENCY_KEY_REUSED.error(f"this {HEADER} was used for a different request")
