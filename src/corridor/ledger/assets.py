"""Assets: tokenised fiat, one per (currency code, issuer)."""

from __future__ import annotations

import re
from typing import NamedTuple

from corridor.ledger.codec import Reader, Writer
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.keys import ADDRESS_LEN
from corridor.ledger.limits import ASSET_CODE_LEN_MAX

_CODE_RE = re.compile(rf"[A-Z0-9]{{1,{ASSET_CODE_LEN_MAX}}}")


class Asset(NamedTuple):
    """An asset is its code and its issuer's address.

    A NamedTuple rather than a frozen dataclass (STYLE 2, deviation): it is the key of every
    balance lookup on the hot path, and tuple hashing and equality run in C.
    """

    code: str
    issuer: bytes

    def encode_into(self, w: Writer) -> None:
        w.text(self.code).fixed(self.issuer, ADDRESS_LEN)

    @staticmethod
    def read(r: Reader) -> Asset:
        code = r.text(ASSET_CODE_LEN_MAX)
        check_asset_code(code)
        return Asset(code, r.fixed(ADDRESS_LEN))


def is_valid_asset_code(code: str) -> bool:
    return _CODE_RE.fullmatch(code) is not None


def check_asset_code(code: str) -> None:
    if not is_valid_asset_code(code):
        raise DecodeError(
            RejectCode.MALFORMED,
            f"asset code {code!r} must be 1-{ASSET_CODE_LEN_MAX} characters A-Z or 0-9",
        )
