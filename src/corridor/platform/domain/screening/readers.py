"""Readers of the published list formats, from the bytes of the files to `ListEntry`s.

Built for the files as they are found: any of UTF-8 (with or without BOM), Windows-1252 or
Latin-1; OFAC's `-0-` for an empty field; missing trailing fields, extra columns, a DOS
end-of-file byte. A file that cannot be what it claims (a record without an id or name, an
id that is not a number, a line that is not JSON) is refused with `ListFormatError`,
naming the file and the line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from rigour.territories import lookup_territory

from corridor.platform.domain.screening.entries import EntityKind, ListEntry, make_entry

LINES_MAX = 5_000_000  # a list file with more records than this is refused
csv.field_size_limit(10_000_000)


class ListFormatError(ValueError):
    """A list file that cannot be read: where (file, line) and what is wrong."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {message}")
        self.file, self.line, self.problem = file, line, message


def decode(data: bytes) -> str:
    """The text of a list file: UTF-8 (BOM dropped) when it is, else Windows-1252 (OFAC's
    legacy files), else Latin-1 (never fails). NUL and DOS EOF bytes are dropped."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    return text.replace("\x00", "").replace("\x1a", "")


def _null(value: str | None) -> str:
    v = (value or "").strip()
    return "" if v in ("-0-", "-0", "") else v


def _rows(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if reader.line_num > LINES_MAX:
                raise ListFormatError(file, reader.line_num, f"more than {LINES_MAX} lines")
            if not row or all(not c.strip() for c in row):
                continue
            yield reader.line_num, row
    except csv.Error as exc:
        raise ListFormatError(file, reader.line_num, f"not valid CSV ({exc})") from None


def country_code(text: str) -> str | None:
    """ISO 3166 alpha-2 (lower case) of a country's name or code, None if unknown."""
    text = text.strip().strip(".")
    if not text:
        return None
    t = lookup_territory(text)
    return t.code.split("-")[0] if t is not None and t.code else None


# --- OFAC SDN legacy CSV --------------------------------------------------------------

_OFAC_KINDS = {"individual": EntityKind.PERSON, "vessel": EntityKind.VESSEL,
               "aircraft": EntityKind.AIRCRAFT, "": EntityKind.ORG}
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
                                       "aug", "sep", "oct", "nov", "dec"), start=1)}
_DOB = re.compile(r"\bDOB\s+(?:circa\s+)?([^;]+)", re.IGNORECASE)
_DATE = re.compile(r"(?:(\d{1,2})\s+)?(?:([A-Za-z]{3})[a-z]*\s+)?(\d{4})")
_AKA = re.compile(r"\b[afn]\.k\.a\.\s+'([^']+)'", re.IGNORECASE)
_NATION = re.compile(r"\b(?:nationality|citizen)\s+([^;]+)", re.IGNORECASE)
SDN_COLUMNS = 12  # ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type,
#                   Tonnage, GRT, Vess_flag, Vess_owner, Remarks


def ofac_dates(remarks: str) -> list[str]:
    """Dates of birth in an SDN remark (`DOB 28 Jul 1963`, `DOB 1963`, `DOB circa 1963`,
    `DOB 1960 to 1962`), as ISO text of the precision given."""
    out = []
    for m in _DOB.finditer(remarks):
        for day, month, year in _DATE.findall(m.group(1)):
            mon = _MONTHS.get(month.lower()[:3]) if month else None
            if day and mon:
                out.append(f"{year}-{mon:02d}-{int(day):02d}")
            elif mon:
                out.append(f"{year}-{mon:02d}")
            else:
                out.append(year)
    return out


def read_ofac(sdn: bytes, alt: bytes | None = None, add: bytes | None = None, *,
              list_name: str = "ofac-sdn") -> list[ListEntry]:
    """The SDN list: sdn.csv with its aliases (alt.csv) and addresses (add.csv), each
    optional beside the first. Individuals' `SURNAME, Given` names are kept as written
    (the matcher ignores order) and also offered as `Given SURNAME`."""
    records: dict[str, dict[str, Any]] = {}
    for line, row in _rows(decode(sdn), "sdn.csv"):
        ent = row[0].strip()
        if not ent.isdigit():
            raise ListFormatError("sdn.csv", line, f"ent_num {ent!r} is not a number")
        row = row + [""] * (SDN_COLUMNS - len(row))
        name = _null(row[1])
        if not name:
            raise ListFormatError("sdn.csv", line, "a record without a name")
        kind = _OFAC_KINDS.get(_null(row[2]).lower(), EntityKind.UNKNOWN)
        remarks = _null(row[11])
        names = [name]
        if kind is EntityKind.PERSON and name.count(",") == 1:
            surname, given = (p.strip() for p in name.split(","))
            if given:
                names.append(f"{given} {surname}")
        names += _AKA.findall(remarks)
        programmes = [p.strip(" []") for p in re.split(r"\]\s*\[", _null(row[3])) if p.strip(" []")]
        countries = [c for c in (country_code(m.strip()) for m in _NATION.findall(remarks)) if c]
        flag = country_code(_null(row[9]))
        records[ent] = {"kind": kind, "names": names, "dob": ofac_dates(remarks),
                        "countries": countries + ([flag] if flag else []),
                        "programmes": programmes}
    for line, row in _rows(decode(alt), "alt.csv") if alt else ():
        ent = row[0].strip()
        if not ent.isdigit() or len(row) < 4:
            raise ListFormatError("alt.csv", line, "expected ent_num, alt_num, type, name")
        alias = _null(row[3])
        if ent in records and alias:
            records[ent]["names"].append(alias)
    for line, row in _rows(decode(add), "add.csv") if add else ():
        ent = row[0].strip()
        if not ent.isdigit():
            raise ListFormatError("add.csv", line, f"ent_num {ent!r} is not a number")
        country = country_code(_null(row[4])) if len(row) > 4 else None
        if ent in records and country:
            records[ent]["countries"].append(country)
    return [make_entry(list_name=list_name, source_id=ent, kind=r["kind"], names=r["names"],
                       dates_of_birth=r["dob"], countries=r["countries"],
                       programmes=r["programmes"], source="OFAC SDN")
            for ent, r in records.items()]


# --- US Consolidated Screening List ---------------------------------------------------

_CSL_KINDS = {"individual": EntityKind.PERSON, "entity": EntityKind.ORG,
              "vessel": EntityKind.VESSEL, "aircraft": EntityKind.AIRCRAFT}
CSL_REQUIRED = ("name",)


def read_csl(data: bytes, *, list_name: str = "us-csl") -> list[ListEntry]:
    """The Consolidated Screening List CSV (header row first; columns found by name, so
    extra or reordered columns do no harm; `_id` or `entity_number` identifies a row,
    else its line)."""
    rows = _rows(decode(data), "consolidated.csv")
    try:
        _line, header = next(rows)
    except StopIteration:
        raise ListFormatError("consolidated.csv", None, "empty file") from None
    cols = {h.strip().lower(): i for i, h in enumerate(header)}
    missing = [c for c in CSL_REQUIRED if c not in cols]
    if missing:
        raise ListFormatError("consolidated.csv", 1,
                              f"no {', '.join(missing)} column in the header")
    out = []
    seen: set[str] = set()
    for line, row in rows:
        def get(col: str, row: list[str] = row) -> str:
            i = cols.get(col)
            return row[i].strip() if i is not None and i < len(row) else ""

        name = get("name")
        if not name:
            raise ListFormatError("consolidated.csv", line, "a row without a name")
        source_id = get("_id") or get("entity_number") or f"line-{line}"
        if source_id in seen:
            source_id = f"{source_id}-line-{line}"
        seen.add(source_id)
        names = [*_csl_names(name), *(n for a in _split(get("alt_names"))
                                        for n in _csl_names(a))]
        countries = [country_code(c) for c in _split(get("nationalities"))
                     + _split(get("citizenships"))]
        for address in _split(get("addresses")):
            countries.append(country_code(address.rsplit(",", 1)[-1]))
        out.append(make_entry(
            list_name=list_name, source_id=source_id,
            kind=_CSL_KINDS.get(get("type").lower(), EntityKind.UNKNOWN), names=names,
            dates_of_birth=[d for d in (_iso_date(x) for x in _split(get("dates_of_birth")))
                            if d],
            countries=[c for c in countries if c], programmes=_split(get("programs")),
            source=get("source")))
    return out


_SUCCESSORS = re.compile(r";?\s*and any successor.*$", re.IGNORECASE)
_PAREN = re.compile(r"\s*\(([^()]{2,60})\)\s*")


def _csl_names(name: str) -> list[str]:
    """A CSL name without the State Department's `; and any successor, sub-unit, or
    subsidiary thereof`, and a parenthesised short form (`… Technology (AASPT)`) as an alias
    of its own beside the name without it."""
    name = _SUCCESSORS.sub("", name).strip()
    found = _PAREN.findall(name)
    if not found:
        return [name] if name else []
    bare = " ".join(_PAREN.sub(" ", name).split())
    return [n for n in (name, bare, *found) if n]


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def _iso_date(text: str) -> str | None:
    text = text.strip()
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        return text
    found = ofac_dates("DOB " + text)
    return found[0] if found else None


# --- OpenSanctions FollowTheMoney -----------------------------------------------------

_FTM_KINDS = {"Person": EntityKind.PERSON, "Organization": EntityKind.ORG,
              "Company": EntityKind.ORG, "LegalEntity": EntityKind.UNKNOWN,
              "PublicBody": EntityKind.ORG, "Vessel": EntityKind.VESSEL,
              "Airplane": EntityKind.AIRCRAFT}
_FTM_NAMES = ("name", "alias", "previousName", "weakAlias")
_FTM_COUNTRIES = ("country", "nationality", "citizenship", "jurisdiction")


# OpenSanctions topics kept as programmes: they designate terrorists (entries.is_terrorist)
FTM_TF_TOPICS = frozenset({"crime.terror"})


def read_ftm(data: bytes, *, list_name: str = "opensanctions") -> list[ListEntry]:
    """FollowTheMoney entities, one JSON object per line. Only subjects that can be
    screened (people, organisations, companies, legal entities, vessels, aircraft) are kept,
    and of those only the targets of the list when the file says (`target`); the rest
    (addresses, sanctions, ownerships) describe them."""
    out = []
    for line, raw in enumerate(decode(data).splitlines(), start=1):
        if line > LINES_MAX:
            raise ListFormatError("entities.ftm.json", line, f"more than {LINES_MAX} lines")
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ListFormatError("entities.ftm.json", line, f"not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("properties", {}), dict):
            raise ListFormatError("entities.ftm.json", line, "not an entity object")
        if not obj.get("id") or not obj.get("schema"):
            raise ListFormatError("entities.ftm.json", line, "an entity without id or schema")
        kind = _FTM_KINDS.get(str(obj["schema"]))
        if kind is None or obj.get("target") is False:
            continue
        props = obj.get("properties") or {}
        names = [n for p in _FTM_NAMES for n in _strings(props.get(p))]
        if not names and obj.get("caption"):
            names = [str(obj["caption"])]
        if not names:
            continue  # a subject with no name cannot be screened by name
        countries = [country_code(c) for p in _FTM_COUNTRIES for c in _strings(props.get(p))]
        out.append(make_entry(
            list_name=list_name, source_id=str(obj["id"]), kind=kind, names=names,
            dates_of_birth=[d[:10] for d in _strings(props.get("birthDate"))
                            if re.match(r"\d{4}", d)],
            countries=[c for c in countries if c],
            programmes=[*(_strings(props.get("programId")) or _strings(props.get("program"))),
                        *(t for t in _strings(props.get("topics")) if t in FTM_TF_TOPICS)],
            source=", ".join(_strings(obj.get("datasets")))))
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return []
