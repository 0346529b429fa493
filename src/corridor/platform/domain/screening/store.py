"""Versioned list snapshots: what each import of a list recorded, and the entries as
stored (each with the versions it was current in), with the pure diff between the current
entries and a newly read file."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from corridor.platform.domain.screening.entries import ListEntry

LIST_NAME_LEN_MAX = 64
SOURCE_ID_LEN_MAX = 128
FILE_NAME_LEN_MAX = 255


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListSnapshot:
    """One version of one list: what the import found (`entry_count`) and how it
    differed from the version before (`added`, `removed`, `changed`)."""

    id: str
    list_name: str
    version: int
    list_format: str
    content_hash: str
    file_name: str
    entry_count: int
    added: int
    removed: int
    changed: int
    imported_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoredEntry:
    """An entry as stored: current from `since_version` of its list until before
    `until_version` (None: still current). A changed entry is a new row."""

    id: str
    list_name: str
    source_id: str
    kind: str
    data: dict[str, Any]
    fingerprint: str
    since_version: int
    until_version: int | None

    def entry(self) -> ListEntry:
        return ListEntry.from_json(self.data)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListDiff:
    """How a newly read list differs from the current entries, by source id."""

    added: tuple[ListEntry, ...]
    removed: tuple[str, ...]
    changed: tuple[ListEntry, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def content_hash(entries: Sequence[ListEntry]) -> str:
    """The hash of a list's content (not of its file's bytes: the same entries in another
    encoding or order are the same content)."""
    h = hashlib.sha256()
    for fp in sorted(e.fingerprint() for e in entries):
        h.update(fp.encode())
    return h.hexdigest()


def diff(current: Mapping[str, str], entries: Sequence[ListEntry]) -> ListDiff:
    """`current`: source id -> fingerprint of the stored current entries."""
    new = {e.source_id: e for e in entries}
    assert len(new) == len(entries), "duplicate source ids (merge_duplicates first)"
    added = tuple(e for sid, e in new.items() if sid not in current)
    changed = tuple(e for sid, e in new.items()
                    if sid in current and current[sid] != e.fingerprint())
    removed = tuple(sorted(sid for sid in current if sid not in new))
    return ListDiff(added=added, removed=removed, changed=changed)


def merge_duplicates(entries: Sequence[ListEntry]) -> list[ListEntry]:
    """One entry per source id: a list that repeats a subject (CSL does, across its
    sub-lists) has its names and facts merged into the first."""
    by_id: dict[str, ListEntry] = {}
    for e in entries:
        first = by_id.get(e.source_id)
        if first is None:
            by_id[e.source_id] = e
            continue
        by_id[e.source_id] = dataclasses.replace(
            first, names=_merge(first.names, e.names),
            dates_of_birth=_merge(first.dates_of_birth, e.dates_of_birth),
            countries=_merge(first.countries, e.countries),
            programmes=_merge(first.programmes, e.programmes))
    return list(by_id.values())


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a + b))
