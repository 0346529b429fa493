"""Measuring the matcher: labelled name pairs in, precision/recall/F1 out, with the
production matcher and threshold; and the generator of the project's own labelled set
(variations of real list names, near-misses between real list subjects, common names of
people not listed), seeded so it is reproduced exactly."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from corridor.platform.domain.screening.entries import EntityKind, ListEntry
from corridor.platform.domain.screening.matcher import THRESHOLD, Query, score_entry
from corridor.platform.domain.screening.names import ORG_GENERIC, name_form, scripts_of
from corridor.platform.domain.screening.readers import decode

SCHEMA_KINDS = {"person": EntityKind.PERSON, "company": EntityKind.ORG,
                "organization": EntityKind.ORG, "organisation": EntityKind.ORG,
                "legalentity": EntityKind.UNKNOWN, "vessel": EntityKind.VESSEL,
                "airplane": EntityKind.AIRCRAFT, "aircraft": EntityKind.AIRCRAFT,
                "org": EntityKind.ORG}
PAIRS_MAX = 1_000_000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    name1: str
    name2: str
    is_match: bool
    kind: EntityKind = EntityKind.UNKNOWN
    variation: str = ""  # how the pair was made (reporting only; never seen by the matcher)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    pairs: int
    tp: int
    fp: int
    fn: int
    tn: int
    threshold: float
    # the wrong decisions: (name1, name2, score, variation)
    misses: tuple[tuple[str, str, float, str], ...]

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "threshold": self.threshold, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "tn": self.tn}


def read_pairs(data: bytes, file: str = "pairs.csv") -> list[Pair]:
    """Labelled pairs from CSV with header `name1,name2,is_match` (`true`/`false`); an
    optional `schema` column (Person, Company, Organization, Vessel...) is a hint; other
    columns are ignored. A bad row is refused with its line."""
    reader = csv.DictReader(io.StringIO(decode(data), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not {"name1", "name2", "is_match"} <= set(header):
        raise ValueError(f"{file}: the header must have name1, name2, is_match")
    reader.fieldnames = header
    out = []
    for row in reader:
        if reader.line_num > PAIRS_MAX:
            raise ValueError(f"{file}: more than {PAIRS_MAX} pairs")
        label = (row.get("is_match") or "").strip().lower()
        if label not in ("true", "false", "1", "0"):
            raise ValueError(f"{file}, line {reader.line_num}: is_match must be true or false")
        n1, n2 = (row.get("name1") or "").strip(), (row.get("name2") or "").strip()
        if not n1 or not n2:
            raise ValueError(f"{file}, line {reader.line_num}: an empty name")
        schema = (row.get("schema") or "").strip().lower()
        out.append(Pair(name1=n1, name2=n2, is_match=label in ("true", "1"),
                        kind=SCHEMA_KINDS.get(schema, EntityKind.UNKNOWN),
                        variation=(row.get("variation") or "").strip()))
    return out


def pair_score(pair: Pair) -> float:
    """The production matcher on one pair: name1 screened against name2 as a list name."""
    entry = ListEntry(list_name="eval", source_id="eval", kind=pair.kind, names=(pair.name2,))
    query = Query(name=pair.name1, kind=pair.kind)
    return score_entry(query, name_form(pair.name1, pair.kind), entry).score


def evaluate(pairs: Sequence[Pair], threshold: float = THRESHOLD) -> Result:
    tp = fp = fn = tn = 0
    misses = []
    for p in pairs:
        s = pair_score(p)
        hit = s >= threshold
        if hit and p.is_match:
            tp += 1
        elif hit:
            fp += 1
            misses.append((p.name1, p.name2, s, p.variation or "negative"))
        elif p.is_match:
            fn += 1
            misses.append((p.name1, p.name2, s, p.variation or "positive"))
        else:
            tn += 1
    return Result(pairs=len(pairs), tp=tp, fp=fp, fn=fn, tn=tn, threshold=threshold,
                  misses=tuple(misses))


def default_sets() -> list[Path]:
    """The project's labelled sets, in the source tree beside the tests."""
    root = Path(__file__).resolve().parents[5] / "tests" / "data" / "screening"
    return [root / "names-tune.csv", root / "names-holdout.csv"]


def sample_lists() -> Path:
    """The sample lists (`shared/data/sanctions` beside the checkout, found upwards; or
    $CORRIDOR_SANCTIONS_DIR)."""
    import os

    if os.environ.get("CORRIDOR_SANCTIONS_DIR"):
        return Path(os.environ["CORRIDOR_SANCTIONS_DIR"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "sanctions"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no shared/data/sanctions above the checkout: set "
                            "CORRIDOR_SANCTIONS_DIR")


# --- the generator --------------------------------------------------------------------

HONORIFICS = ("Mr", "Mr.", "Dr", "Mrs", "Ms", "Prof.", "Sir")
ORG_TYPE_SWAPS = (("LLC", "Limited Liability Company"), ("LTD", "Limited"),
                  ("JSC", "Joint Stock Company"), ("LLC", "ООО"), ("Limited", "Ltd."),
                  ("Company", "Co."), ("Corporation", "Corp."))
KEYBOARD_NEAR = {"a": "sq", "e": "wr", "i": "uo", "o": "ip", "n": "bm", "m": "n", "s": "ad",
                 "r": "et", "t": "ry", "l": "k", "k": "jl", "h": "gj", "d": "sf", "v": "bc"}


def typo(token: str, rng: random.Random) -> str:
    """One human slip in a token: a letter dropped, doubled, swapped or mistyped."""
    if len(token) < 4:
        return token
    i = rng.randrange(1, len(token) - 1)
    how = rng.randrange(4)
    if how == 0:
        return token[:i] + token[i + 1:]
    if how == 1:
        return token[:i] + token[i] + token[i:]
    if how == 2:
        return token[:i - 1] + token[i] + token[i - 1] + token[i + 1:]
    near = KEYBOARD_NEAR.get(token[i].lower())
    return token[:i] + (rng.choice(near) if near else token[i]) + token[i + 1:]


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))


def variations(name: str, kind: EntityKind, rng: random.Random) -> list[tuple[str, str]]:
    """Realistic other writings of a list name: (variation kind, text)."""
    tokens = name.replace(",", " ").split()
    out: list[tuple[str, str]] = []
    if len(tokens) >= 2:
        out.append(("reorder", " ".join(tokens[1:] + tokens[:1])))
        i = rng.randrange(len(tokens))
        out.append(("typo", " ".join(typo(t, rng) if j == i else t
                                     for j, t in enumerate(tokens))))
        out.append(("case+accents", strip_accents(name).lower()))
    if kind is EntityKind.PERSON and len(tokens) >= 3:
        out.append(("missing-token", " ".join(tokens[:1] + tokens[2:])))
    if kind is EntityKind.PERSON and len(tokens) >= 2 and len(tokens[0]) > 2:
        first = tokens[0] if "," not in name else tokens[1]
        rest = [t for t in tokens if t != first]
        out.append(("initial", f"{first[0]}. {' '.join(rest)}"))
        out.append(("honorific", f"{rng.choice(HONORIFICS)} {name}"))
    if kind is EntityKind.ORG:
        for a, b in ORG_TYPE_SWAPS:
            if a.lower() in [t.lower().strip(".") for t in tokens]:
                out.append(("org-type", " ".join(b if t.lower().strip(".") == a.lower() else t
                                                 for t in tokens)))
                break
        else:
            out.append(("org-type", f"{name} {rng.choice(('Ltd', 'LLC', 'Inc.', 'GmbH'))}"))
    return out


def _cyrillic(text: str) -> str:
    import icu  # type: ignore[import-untyped]  # PyICU (rigour's transliteration uses it)

    return str(icu.Transliterator.createInstance("Latin-Cyrillic").transliterate(text))


def generate(entries: Sequence[ListEntry], common_names: Sequence[str], seed: int
             ) -> list[tuple[str, Pair]]:
    """(entry source id, pair) for a labelled set: every entry's variations and its own
    aliases in other scripts (matches), its near-misses among other list subjects sharing
    a token and the common names of unlisted people (non-matches)."""
    rng = random.Random(seed)
    out: list[tuple[str, Pair]] = []
    by_token: dict[str, list[ListEntry]] = {}
    for e in entries:
        for t in {t for n in e.names[:1] for t in name_form(n, e.kind).tokens if len(t) > 2}:
            by_token.setdefault(t, []).append(e)
    for e in entries:
        schema = "Person" if e.kind is EntityKind.PERSON else "Company"
        kind = EntityKind.PERSON if e.kind is EntityKind.PERSON else EntityKind.ORG
        name = e.names[0]
        if len(name) > 80:
            continue
        for how, text in variations(name, kind, rng):
            if text != name:
                out.append((e.source_id, Pair(name1=text, name2=name, is_match=True,
                                              kind=kind, variation=how)))
        scripts = scripts_of(name)
        for alias in e.names[1:]:
            if scripts_of(alias).isdisjoint(scripts) and len(alias) <= 80:
                out.append((e.source_id, Pair(name1=alias, name2=name, is_match=True,
                                              kind=kind, variation="cross-script")))
                break
        if kind is EntityKind.PERSON and name.isascii():
            # the name as a Russian-language document would write it (ICU Latin-Cyrillic)
            out.append((e.source_id, Pair(name1=_cyrillic(name), name2=name, is_match=True,
                                          kind=kind, variation="latin-to-cyrillic")))
        tokens = name.replace(",", " ").split()
        if len(tokens) >= 2:
            two = [typo(t, rng) if len(t) >= 6 else t for t in tokens]
            out.append((e.source_id, Pair(name1=" ".join(two), name2=name, is_match=True,
                                          kind=kind, variation="typos")))
        # another subject: the name's most distinctive token (the longest that is neither a
        # company type nor a generic word) swapped for another listed subject's
        own = [t for t in name_form(name, kind).tokens if t not in ORG_GENERIC]
        donor = [t for t in name_form(rng.choice(entries).names[0], kind).tokens
                 if t not in ORG_GENERIC and len(t) > 3]
        if len(own) >= 2 and donor:
            base = list(name_form(name, kind).tokens)
            longest = base.index(max(own, key=len))
            swap = max(donor, key=len)
            if swap != base[longest]:
                base[longest] = swap
                out.append((e.source_id, Pair(name1=" ".join(base), name2=name,
                                              is_match=False, kind=kind,
                                              variation="swapped-token")))
        near = {o.source_id: o for t in name_form(name, e.kind).tokens if len(t) > 2
                for o in by_token.get(t, ()) if o.source_id != e.source_id
                and o.kind == e.kind and not set(o.names) & set(e.names)}
        for o in list(near.values())[:2]:
            out.append((e.source_id, Pair(name1=o.names[0], name2=name, is_match=False,
                                          kind=kind, variation="near-miss")))
        for common in rng.sample(list(common_names), 2):
            out.append((e.source_id, Pair(name1=common, name2=name, is_match=False,
                                          kind=kind, variation="common-name")))
        del schema
    return out
