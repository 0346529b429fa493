"""Names made comparable across scripts and spellings.

A name becomes a `NameForm`: ASCII tokens (rigour's transliteration: its own spellings for
Cyrillic, Greek and a few more, ICU through normality for Arabic, Han and the rest),
without honorifics (rigour's person prefixes) or company-type words (rigour's org types,
which know `Ltd`, `LLC`, `ООО`, `GmbH`, `S.A.`...), each token with two keys that survive
spelling: its metaphone (rigour) and its consonant skeleton (vowels dropped, doubles
collapsed: `Mohammed`, `Muhammad` and the unvocalised Arabic `محمد` all give `mhmd`).

Han script is written without spaces and transliterates syllable by syllable
(`习近平` -> `xi jin ping`), while Latin spellings join a given name's syllables
(`Xi Jinping`); a Han name therefore also offers its syllables grouped the usual ways
(`alternates`). rigour has no Chinese company-type words, so `HAN_ORG_TYPES` lists them.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata

from rigour.names import remove_org_types, remove_person_prefixes, tokenize_name
from rigour.text.phonetics import metaphone
from rigour.text.translit import ascii_text

from corridor.platform.domain.screening.entries import EntityKind

# Chinese company-type words (simplified and traditional), longest first: rigour's org
# types cover Latin, Cyrillic and Greek forms only.
HAN_ORG_TYPES = (
    "股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "集团公司", "集團公司",
    "控股集团", "控股集團", "集团", "集團", "公司",
)
VOWELS = frozenset("aeiouy")
# Generic words of organisation names: they count for less than distinctive ones.
ORG_GENERIC = frozenset({
    "and", "of", "the", "for", "company", "co", "group", "international", "intl", "trading",
    "trade", "import", "export", "industrial", "industries", "industry", "holding",
    "holdings", "corporation", "corp", "enterprise", "enterprises", "services", "bank",
    "organization", "organisation", "foundation", "institute", "research", "technology",
    "development", "limited", "ltd", "jsc", "llc", "inc", "sa", "ooo", "ao", "pao", "zao",
    "oao", "gmbh", "ag", "bv", "plc", "de", "la", "el", "al", "bin", "ibn", "bint", "abu",
    "oil", "gas", "petroleum", "energy", "nk", "shipping", "logistics",
})
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NameForm:
    """A name ready to compare: `tokens` (ASCII, lower case), the company-type words taken
    off, which scripts it was written in, and other groupings of its tokens (Han)."""

    original: str
    tokens: tuple[str, ...]
    org_types: tuple[str, ...] = ()
    scripts: frozenset[str] = frozenset()
    alternates: tuple[tuple[str, ...], ...] = ()

    @property
    def arabic(self) -> bool:
        return "Arabic" in self.scripts

    @property
    def han(self) -> bool:
        return "Han" in self.scripts


def scripts_of(text: str) -> frozenset[str]:
    """The scripts a text's letters belong to (first word of their Unicode name)."""
    out: set[str] = set()
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            if name.startswith("CJK"):
                out.add("Han")
            elif name:
                out.add(name.split(" ", 1)[0].capitalize())
    return frozenset(out)


@functools.lru_cache(maxsize=200_000)
def name_form(text: str, kind: EntityKind = EntityKind.UNKNOWN) -> NameForm:
    """`text` made comparable (see the module's doc). Cached: list names recur."""
    scripts = scripts_of(text)
    cleaned, han_types = _strip_han_org_types(text) if "Han" in scripts else (text, ())
    org_types: tuple[str, ...] = han_types
    if kind is not EntityKind.PERSON and not cleaned.isascii():
        # company types in their own script first (`товариство з обмеженою
        # відповідальністю`): rigour knows them there, not all in transliteration
        native = " ".join(tokenize_name(cleaned.lower()))
        stripped = " ".join(remove_org_types(native).split())
        if stripped and stripped != native:
            org_types += tuple(t for t in native.split() if t not in stripped.split())
            cleaned = stripped
    ascii_ = _NOT_WORD.sub(" ", ascii_text(cleaned).lower().replace("-", " "))
    ascii_ = " ".join(tokenize_name(ascii_))
    if kind is not EntityKind.PERSON:
        stripped = " ".join(remove_org_types(ascii_).split())
        if stripped and stripped != ascii_:
            org_types += tuple(t for t in ascii_.split() if t not in stripped.split())
            ascii_ = stripped
    if kind is not EntityKind.ORG:
        ascii_ = " ".join(remove_person_prefixes(ascii_).split()) or ascii_
    tokens = tuple(ascii_.split())
    alternates = _han_groupings(tokens) if "Han" in scripts else ()
    return NameForm(original=text, tokens=tokens, org_types=org_types, scripts=scripts,
                    alternates=alternates)


def _strip_han_org_types(text: str) -> tuple[str, tuple[str, ...]]:
    found = []
    for word in HAN_ORG_TYPES:
        if word in text:
            text = text.replace(word, " ")
            found.append(word)
    return text, tuple(found)


def _han_groupings(syllables: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Latin spellings of a Han name: family name then the given name joined (`xi
    jinping`), syllables paired (`zhongguo hangtian`), all joined."""
    n = len(syllables)
    if n < 2:
        return ()
    out = [(syllables[0], "".join(syllables[1:])),
           tuple("".join(syllables[i:i + 2]) for i in range(0, n, 2)),
           ("".join(syllables),)]
    if n >= 3:
        out.append(("".join(syllables[:2]), "".join(syllables[2:])))  # 2-syllable surnames
    return tuple(dict.fromkeys(g for g in out if g != syllables))


@functools.lru_cache(maxsize=200_000)
def skeleton(token: str) -> str:
    """The token's consonants, doubles collapsed: what an unvocalised script keeps."""
    out: list[str] = []
    for ch in token:
        if ch in VOWELS or ch.isdigit():
            continue
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=200_000)
def phonetic(token: str) -> str:
    return metaphone(token) if token.isalpha() else token


DELETION_KEY_LEN_MIN = 4  # tokens this long also give their one-letter deletions


def keys_of(form: NameForm, *, deletions: bool = True) -> set[str]:
    """The index keys of a name: each token, its metaphone, its skeleton, and (tokens of
    DELETION_KEY_LEN_MIN letters or more; `deletions`) the token and its one-letter
    deletions, so a slip of one letter (dropped, added, changed, swapped) still shares a
    key (SymSpell's deletion neighbourhood)."""
    keys: set[str] = set()
    for tokens in (form.tokens, *form.alternates):
        for t in tokens:
            keys.update(token_keys(t, deletions=deletions))
    return keys


def token_keys(t: str, *, deletions: bool = True) -> list[str]:
    if len(t) < 2:
        return []  # an initial: matched by the scoring, too common to look up
    keys = ["t:" + t]
    if deletions and len(t) >= DELETION_KEY_LEN_MIN:
        keys += ["d:" + t] + ["d:" + t[:i] + t[i + 1:] for i in range(len(t))]
    if len(t) > 1:
        p = phonetic(t)
        if len(p) > 1:
            keys.append("m:" + p)
        s = skeleton(t)
        if len(s) > 1:
            keys.append("s:" + s)
    return keys


@functools.lru_cache(maxsize=200_000)
def token_weight(token: str) -> float:
    """How much a token says about identity: longer tokens more; generic words little."""
    base = float(min(len(token), 8))
    return base * 0.3 if token in ORG_GENERIC else base
