"""JSON from outside, decoded strictly: an object that names a key twice is refused
(`DuplicateKey`) instead of keeping the last value, so two readers of one body (a proxy, a
signature check, the platform) can never see two different requests; NaN and Infinity,
which Python's decoder accepts, are refused as not JSON (`NotJson`). The API decodes every
request body with it (api/json_body.py), and so does every signed webhook we receive."""

from __future__ import annotations

import json
from typing import Any

KEY_SHOWN_MAX = 80  # characters of a repeated key named in an error


class NotJson(ValueError):
    pass


class DuplicateKey(NotJson):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key[:KEY_SHOWN_MAX]!r} is given more than once")
        self.key = key[:KEY_SHOWN_MAX]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise DuplicateKey(name)
        seen.add(name)
    raise AssertionError("a shorter dict without a repeated key")


def _constant(name: str) -> Any:
    raise NotJson(f"{name} is not JSON")


def loads(text: bytes | str) -> Any:
    """Standard JSON, no key twice in one object, no NaN or Infinity. Raises `NotJson`
    (or `DuplicateKey`), or json.JSONDecodeError / UnicodeDecodeError for broken text."""
    return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
