"""Rows to records and back, at the repositories' edge.

A record's field types say what its column holds: a `StrEnum` field is stored as the
member's text (so the wire format and the database's values are those of the enum's
values) and read back as the member; a `tuple[R, ...]` of frozen records is stored as a
JSON list of objects (field name -> value, each converted the same way) and read back as
the tuple, and a `dict[str, R]` as a JSON object of such objects. Every other field
passes through as the driver gives it. The conversions are worked out once per record
type from its annotations, so records stay typed without a hand-written mapper per table,
and a type with nothing to convert costs nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

R = TypeVar("R")
Convert = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Codec(Generic[R]):
    """How one record type's rows become records (`record`) and records rows (`values`)."""

    type: type[R]
    names: tuple[str, ...]
    reads: tuple[tuple[str, Convert], ...]  # only the fields that need converting
    writes: tuple[tuple[str, Convert], ...]

    def record(self, row: Mapping[Any, Any]) -> R:  # column name -> value
        if not self.reads:
            return self.type(**row)
        fields = dict(row)
        for name, read in self.reads:
            value = fields[name]
            if value is not None:
                fields[name] = read(value)
        return self.type(**fields)

    def values(self, record: R) -> dict[str, Any]:
        out = {name: getattr(record, name) for name in self.names}
        for name, write in self.writes:
            value = out[name]
            if value is not None:
                out[name] = write(value)
        return out


_CODECS: dict[type, Codec[Any]] = {}


def codec(record_type: type[R]) -> Codec[R]:
    found = _CODECS.get(record_type)
    if found is None:
        found = _CODECS[record_type] = _build(record_type)
    return found


def _build(record_type: type[R]) -> Codec[R]:
    assert dataclasses.is_dataclass(record_type), f"{record_type} is not a record type"
    hints = typing.get_type_hints(record_type)
    names = tuple(f.name for f in dataclasses.fields(record_type))
    reads, writes = [], []
    for name in names:
        pair = _converters(hints[name])
        if pair is not None:
            reads.append((name, pair[0]))
            writes.append((name, pair[1]))
    return Codec(record_type, names, tuple(reads), tuple(writes))


def _converters(hint: Any) -> tuple[Convert, Convert] | None:
    """(read, write) for a field of type `hint`; None: stored as it is. A None value is
    never converted (the callers skip it), so `T | None` converts as `T`."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converters(inner[0]) if len(inner) == 1 else None
    if isinstance(hint, type) and issubclass(hint, enum.StrEnum):
        return _enum_converters(hint)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if (len(args) == 2 and args[1] is Ellipsis and isinstance(args[0], type)
                and dataclasses.is_dataclass(args[0])):
            item: Codec[Any] = codec(args[0])
            return (lambda rows: tuple(item.record(r) for r in rows),
                    lambda records: [item.values(r) for r in records])
        if len(args) == 2 and args[1] is Ellipsis and args[0] is str:  # a JSON list of text
            return tuple, list
    if typing.get_origin(hint) is dict:
        value = typing.get_args(hint)[1]
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            entry: Codec[Any] = codec(value)
            return (lambda rows: {k: entry.record(r) for k, r in rows.items()},
                    lambda records: {k: entry.values(r) for k, r in records.items()})
    return None


def _enum_converters(kind: type[enum.StrEnum]) -> tuple[Convert, Convert]:
    """Text -> member and member (or its text) -> plain text, by one dict lookup (calling
    the enum costs several times more, on every row). A value outside the enum is a bug
    and raises here, on the way in or out, rather than passing on."""
    members = _Lookup(kind, {m.value: m for m in kind})
    texts = _Lookup(kind, {text: text for text in members})  # a member hashes as its text
    return members.__getitem__, texts.__getitem__


class _Lookup(dict[str, Any]):
    def __init__(self, kind: type[enum.StrEnum], items: dict[str, Any]) -> None:
        super().__init__(items)
        self.kind = kind

    def __missing__(self, key: object) -> Any:
        raise ValueError(f"{key!r} is not a valid {self.kind.__name__}")
