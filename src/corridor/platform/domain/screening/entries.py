"""List entries: one sanctioned person, organisation, vessel or aircraft as a list publishes
it, with every name it is known by and the facts that support or weaken a match."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any


class EntityKind(enum.StrEnum):
    PERSON = "person"
    ORG = "org"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"
    UNKNOWN = "unknown"  # the list does not say (many CSL sources leave `type` empty)


class ListFormat(enum.StrEnum):
    OFAC = "ofac"  # OFAC SDN legacy CSV: sdn.csv (+ alt.csv, add.csv beside it)
    CSL = "csl"  # US Consolidated Screening List CSV (with a header)
    FTM = "ftm"  # OpenSanctions FollowTheMoney entities, one JSON object per line


NAME_LEN_MAX = 500  # a name longer than this is cut (a list's free text, not a name)
NAMES_PER_ENTRY_MAX = 200  # the most names (name and aliases) one entry keeps


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListEntry:
    """One listed subject. `names[0]` is its primary name, the rest its aliases; dates of
    birth are ISO text of any precision (`1963`, `1963-07`, `1963-07-28`); countries are
    ISO 3166 alpha-2 in lower case (nationality, citizenship, address, jurisdiction)."""

    list_name: str
    source_id: str  # the list's own id of the subject (OFAC ent_num, CSL _id, FtM id)
    kind: EntityKind
    names: tuple[str, ...]
    dates_of_birth: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    source: str = ""  # the publishing body or sub-list (CSL `source`, FtM datasets)

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.names[1:]

    def to_json(self) -> dict[str, Any]:
        return {"list_name": self.list_name, "source_id": self.source_id,
                "kind": str(self.kind), "names": list(self.names),
                "dates_of_birth": list(self.dates_of_birth),
                "countries": list(self.countries), "programmes": list(self.programmes),
                "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ListEntry:
        return cls(list_name=data["list_name"], source_id=data["source_id"],
                   kind=EntityKind(data["kind"]), names=tuple(data["names"]),
                   dates_of_birth=tuple(data.get("dates_of_birth", ())),
                   countries=tuple(data.get("countries", ())),
                   programmes=tuple(data.get("programmes", ())),
                   source=data.get("source", ""))

    def fingerprint(self) -> str:
        """A hash of everything the entry says: a re-import that changes any of it is a
        change of the entry."""
        text = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


# Designations that make a listed subject a terrorist or a terrorist organisation: OFAC's
# SDGT/SDT/FTO programmes (also in the CSL's `programs`), the UN 1267/1988 regimes, and
# OpenSanctions' topic `crime.terror` (kept among an FtM entry's programmes, readers.py).
TF_PROGRAMMES = frozenset({"SDGT", "SDT", "FTO", "UNSC-1267", "UNSC-1988", "crime.terror"})
_TF_UPPER = frozenset(p.upper() for p in TF_PROGRAMMES)
# A list imported under a name that says so (`--list un-terrorists`, `--list tf-lists`)
# is a terrorist-financing list as a whole.
_TF_LIST_WORDS = frozenset({"tf", "cft", "terror", "terrorist", "terrorists", "terrorism",
                            "sdgt", "fto", "1267", "1988"})


def is_terrorist(entry: ListEntry) -> bool:
    """Whether the entry designates a terrorist or terrorist organisation: a programme of
    TF_PROGRAMMES (its first word: OFAC may qualify one), or a list whose name says it is
    a terrorist-financing list."""
    for programme in entry.programmes:
        words = programme.strip().upper().split()
        if words and words[0] in _TF_UPPER:
            return True
    return any(w in _TF_LIST_WORDS for w in re.split(r"[^0-9a-z]+", entry.list_name.lower()))


def make_entry(*, list_name: str, source_id: str, kind: EntityKind, names: Iterable[str],
               dates_of_birth: Iterable[str] = (), countries: Iterable[str] = (),
               programmes: Iterable[str] = (), source: str = "") -> ListEntry:
    """An entry with its lists cleaned: blanks dropped, duplicates removed (first kept),
    names cut to NAME_LEN_MAX, at most NAMES_PER_ENTRY_MAX names."""
    return ListEntry(list_name=list_name, source_id=source_id, kind=kind,
                     names=_unique(n[:NAME_LEN_MAX] for n in names)[:NAMES_PER_ENTRY_MAX],
                     dates_of_birth=_unique(dates_of_birth),
                     countries=_unique(c.lower() for c in countries),
                     programmes=_unique(programmes), source=source)


def _unique(values: Iterable[Any]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for v in values:
        v = " ".join(str(v).split())
        if v and v not in seen:
            seen[v] = None
    return tuple(seen)
