"""The canonical byte encoding: one encoding per value, so hashes and signatures are stable.

Rules (pinned by tests/vectors): integers are fixed-width big-endian; byte strings and lists
carry a u16 length prefix; optionals are a 0/1 byte; booleans are exactly 0 or 1; records are
their fields in declaration order. Decoding rejects every byte string that is not the encoding
of some value: wrong lengths, trailing bytes, flags other than 0/1, out-of-range numbers,
unsorted or duplicate set members.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from typing import TypeVar

from corridor.ledger.errors import DecodeError, RejectCode

T = TypeVar("T")

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class Writer:
    """Appends canonical encodings to a growing buffer."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        assert 0 <= value <= 0xFF, value
        self._parts.append(bytes((value,)))
        return self

    def u16(self, value: int) -> Writer:
        self._parts.append(_U16.pack(value))
        return self

    def u32(self, value: int) -> Writer:
        self._parts.append(_U32.pack(value))
        return self

    def u64(self, value: int) -> Writer:
        self._parts.append(_U64.pack(value))
        return self

    def boolean(self, value: bool) -> Writer:
        self._parts.append(b"\x01" if value else b"\x00")
        return self

    def fixed(self, data: bytes, length: int) -> Writer:
        assert len(data) == length, (len(data), length)
        self._parts.append(data)
        return self

    def var(self, data: bytes) -> Writer:
        self._parts.append(_U16.pack(len(data)))
        self._parts.append(data)
        return self

    def text(self, value: str) -> Writer:
        return self.var(value.encode("utf-8"))

    def optional_fixed(self, data: bytes | None, length: int) -> Writer:
        if data is None:
            return self.u8(0)
        return self.u8(1).fixed(data, length)

    def optional_u64(self, value: int | None) -> Writer:
        if value is None:
            return self.u8(0)
        return self.u8(1).u64(value)

    def raw(self, data: bytes) -> Writer:
        self._parts.append(data)
        return self

    def count(self, n: int) -> Writer:
        return self.u16(n)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Reads canonical encodings; every failure is a `DecodeError` with a stable code."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(RejectCode.MALFORMED, "expected bytes")
        self._data = bytes(data)
        self._pos = 0

    def _take(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise DecodeError(RejectCode.MALFORMED, "truncated input")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        value: int = _U16.unpack(self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack(self._take(4))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack(self._take(8))[0]
        return value

    def boolean(self) -> bool:
        flag = self.u8()
        if flag > 1:
            raise DecodeError(RejectCode.NON_CANONICAL, f"boolean byte must be 0 or 1, got {flag}")
        return flag == 1

    def fixed(self, length: int) -> bytes:
        return self._take(length)

    def var(self, max_len: int) -> bytes:
        n = self.u16()
        if n > max_len:
            raise DecodeError(RejectCode.LIMIT_EXCEEDED, f"length {n} exceeds the limit {max_len}")
        return self._take(n)

    def text(self, max_len: int) -> str:
        raw = self.var(max_len)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(RejectCode.MALFORMED, "text is not valid UTF-8") from None

    def optional_fixed(self, length: int) -> bytes | None:
        return self.fixed(length) if self.boolean() else None

    def optional_u64(self) -> int | None:
        return self.u64() if self.boolean() else None

    def count(self, max_count: int, what: str) -> int:
        n = self.u16()
        if n > max_count:
            raise DecodeError(RejectCode.LIMIT_EXCEEDED, f"{n} {what} exceed the limit {max_count}")
        return n

    def items(self, max_count: int, what: str, read: Callable[[Reader], T]) -> tuple[T, ...]:
        return tuple(read(self) for _ in range(self.count(max_count, what)))

    def end(self) -> None:
        if self._pos != len(self._data):
            raise DecodeError(RejectCode.NON_CANONICAL, "trailing bytes after the value")


def decode_all(data: bytes, read: Callable[[Reader], T]) -> T:
    """Decodes exactly one value from `data`, rejecting trailing bytes."""
    reader = Reader(data)
    value = read(reader)
    reader.end()
    return value


def require_strictly_sorted(keys: list[bytes] | tuple[bytes, ...], what: str) -> None:
    """Sets are encoded sorted and without duplicates: the only canonical order."""
    for a, b in itertools.pairwise(keys):
        if not a < b:
            raise DecodeError(RejectCode.NON_CANONICAL, f"{what} must be sorted and unique")
