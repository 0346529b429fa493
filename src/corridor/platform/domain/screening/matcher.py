"""The matcher: a name (and optionally a date of birth, a country, a kind) against one
list entry, giving a score in [0, 1] and the explanation of it.

Name against name: the tokens of both are aligned one to one, best pairs first; a pair's
similarity is the best of four channels - edit distance (rapidfuzz Levenshtein ratio), the
same metaphone, the same or a close consonant skeleton (transliterations of Arabic drop
vowels), and an initial standing for a token. Order does not count. Each side's coverage
is the share of its token weight (length; generic words less) that was matched, weighted
by the pairs' similarity; the score leans on the shorter name's coverage (a missing middle
name or patronymic costs little), and a match of a single token of a longer name is
discounted (a shared first name is not a match). Han names also try their syllables'
groupings. The entry's score is that of its best name or alias.

Evidence: a date of birth that agrees raises the score, one that disagrees lowers it; so
do countries (less); a different kind of subject lowers it much. Evidence only counts when
both sides have it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from rapidfuzz.distance import OSA, Levenshtein

from corridor.platform.domain.screening.entries import EntityKind, ListEntry
from corridor.platform.domain.screening.names import (
    ORG_GENERIC,
    NameForm,
    name_form,
    phonetic,
    skeleton,
    token_weight,
)

THRESHOLD = 0.80  # a hit from here up (tuned on the tune half of the evaluation set)
TOKEN_SIM_MIN = 0.70  # a token pair below this is not a match of the two tokens
SHORT_SIDE_WEIGHT = 0.75  # the shorter name's coverage counts this much, the longer's the rest
ONE_TOKEN_FACTOR = 0.72  # one matched token of a name with several
DOB_MATCH, DOB_YEAR, DOB_MISMATCH = 0.08, 0.04, -0.15
COUNTRY_MATCH, COUNTRY_MISMATCH = 0.03, -0.05
KIND_MISMATCH = -0.30
PREFIX_MIN = 4  # a shared beginning this long may be one word's two forms


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TokenMatch:
    """One aligned pair: the query's token, the entry name's token, how alike, and why."""

    query: str
    listed: str
    similarity: float
    how: str  # exact | spelling | phonetic | skeleton | initial


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NameScore:
    score: float
    matches: tuple[TokenMatch, ...]
    unmatched_query: tuple[str, ...]
    unmatched_listed: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """A fact beside the name that moved the score (`delta`), in words."""

    kind: str  # dob | country | kind
    delta: float
    detail: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """An entry the screened name matched, with the score and why: which of the entry's
    names (`matched_name`; `is_alias`), which tokens, which evidence."""

    entry: ListEntry
    score: float
    name_score: float
    matched_name: str
    is_alias: bool
    tokens: tuple[TokenMatch, ...]
    unmatched_query: tuple[str, ...]
    unmatched_listed: tuple[str, ...]
    evidence: tuple[Evidence, ...]

    def explain(self) -> str:
        """One line a compliance officer can read."""
        which = "alias" if self.is_alias else "name"
        pairs = ", ".join(f"{t.query}={t.listed} ({t.how} {t.similarity:.2f})"
                          for t in self.tokens)
        text = f"{which} '{self.matched_name}': {pairs or 'no tokens'}"
        if self.unmatched_query:
            text += f"; not in the list name: {' '.join(self.unmatched_query)}"
        if self.unmatched_listed:
            text += f"; not in the query: {' '.join(self.unmatched_listed)}"
        for e in self.evidence:
            text += f"; {e.detail} ({e.delta:+.2f})"
        return text


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """What is screened: a name, and what else is known of its bearer."""

    name: str
    dob: str | None = None  # ISO text of any precision
    country: str | None = None  # ISO 3166 alpha-2
    kind: EntityKind | None = None


@functools.lru_cache(maxsize=500_000)
def token_similarity(a: str, b: str, *, unvocalised: bool = False) -> tuple[float, str]:
    """How alike two tokens are, and by which channel (cached: list tokens recur)."""
    if a == b:
        return 1.0, "exact"
    if len(a) == 1 or len(b) == 1:
        short, long_ = (a, b) if len(a) == 1 else (b, a)
        return (0.85, "initial") if long_.startswith(short) and len(long_) > 1 else (0.0, "")
    best, how = OSA.normalized_similarity(a, b), "spelling"  # a swap is one slip
    pa, pb = phonetic(a), phonetic(b)
    if pa == pb and len(pa) > 1 and best < 0.9:
        best, how = 0.9, "phonetic"
    cp = _common_prefix(a, b)
    if cp >= PREFIX_MIN and cp >= 0.6 * min(len(a), len(b)):  # trade / trading
        p = 0.8 + 0.1 * cp / max(len(a), len(b))
        if p > best:
            best, how = p, "prefix"
    sa, sb = skeleton(a), skeleton(b)
    if len(sa) > 1 and len(sb) > 1:
        if sa == sb:
            s = 0.92 if unvocalised else 0.86
        elif unvocalised:
            s = 0.9 * Levenshtein.normalized_similarity(sa, sb)
        else:
            s = 0.0
        if s > best:
            best, how = s, "skeleton"
    return best, how


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def compare_tokens(query: Sequence[str], listed: Sequence[str], *,
                   unvocalised: bool = False) -> NameScore:
    """Aligns two token lists one to one (best pairs first) and scores the alignment."""
    if not query or not listed:
        return NameScore(score=0.0, matches=(), unmatched_query=tuple(query),
                         unmatched_listed=tuple(listed))
    pairs: list[tuple[float, int, int, str]] = []
    for i, q in enumerate(query):
        for j, c in enumerate(listed):
            sim, how = token_similarity(q, c, unvocalised=unvocalised)
            if sim >= TOKEN_SIM_MIN:
                pairs.append((sim, i, j, how))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used_q: dict[int, tuple[float, int, str]] = {}
    used_c: set[int] = set()
    for sim, i, j, how in pairs:
        if i not in used_q and j not in used_c:
            used_q[i] = (sim, j, how)
            used_c.add(j)
    wq = [token_weight(t) for t in query]
    wc = [token_weight(t) for t in listed]
    got_q = sum(sim * wq[i] for i, (sim, _j, _h) in used_q.items())
    got_c = sum(sim * wc[j] for _i, (sim, j, _h) in used_q.items())
    cov_q, cov_c = got_q / sum(wq), got_c / sum(wc)
    short, long_ = (cov_q, cov_c) if len(query) <= len(listed) else (cov_c, cov_q)
    score = SHORT_SIDE_WEIGHT * short + (1 - SHORT_SIDE_WEIGHT) * long_
    if len(used_q) == 1 and _distinctive_left(query, listed, used_q, used_c):
        score *= ONE_TOKEN_FACTOR
    matches = tuple(TokenMatch(query=query[i], listed=listed[j], similarity=round(sim, 3),
                               how=how) for i, (sim, j, how) in sorted(used_q.items()))
    return NameScore(score=score, matches=matches,
                     unmatched_query=tuple(t for i, t in enumerate(query) if i not in used_q),
                     unmatched_listed=tuple(t for j, t in enumerate(listed)
                                            if j not in used_c))


def _distinctive_left(query: Sequence[str], listed: Sequence[str],
                      used_q: dict[int, tuple[float, int, str]], used_c: set[int]) -> bool:
    """Whether a name-bearing (not generic) token is left unmatched on either side."""
    return any(t not in ORG_GENERIC for i, t in enumerate(query) if i not in used_q) or any(
        t not in ORG_GENERIC for j, t in enumerate(listed) if j not in used_c)


def _groupings(form: NameForm, other: NameForm) -> tuple[tuple[str, ...], ...]:
    """The token lists of `form` to try against `other`. A Han name's syllables one by one
    only against a name spelled in as many pieces (`Xi Jin Ping`), else its groupings: a
    syllable left over is a different name (`Zhang Wei` is not `张伟明`)."""
    if form.han and other.han:
        return (form.tokens,)  # syllable for syllable
    if form.han and len(other.tokens) < len(form.tokens):
        return form.alternates or (form.tokens,)
    return (form.tokens, *form.alternates)


def compare_names(query: NameForm, listed: NameForm) -> NameScore:
    """Two names: their tokens, and the other groupings of Han names; the best counts.
    A name written joined on one side and spaced on the other (`Abujheisheh`, the Arabic
    `نصر الله` against `Nasrallah`) also gets the similarity of the joined spellings
    (their consonant skeletons when one side is unvocalised)."""
    unvocalised = query.arabic or listed.arabic
    best = NameScore(score=0.0, matches=(), unmatched_query=query.tokens,
                     unmatched_listed=listed.tokens)
    for q in _groupings(query, listed):
        for c in _groupings(listed, query):
            s = compare_tokens(q, c, unvocalised=unvocalised)
            if s.score > best.score:
                best = s
    if best.score < THRESHOLD and (len(query.tokens) > 1 or len(listed.tokens) > 1):
        joined_q, joined_c = "".join(query.tokens), "".join(listed.tokens)
        if unvocalised:
            joined_q, joined_c, factor, how = (skeleton(joined_q), skeleton(joined_c), 0.92,
                                               "joined skeleton")
        else:
            factor, how = 0.95, "joined"
        if min(len(joined_q), len(joined_c)) >= 6:
            sim = Levenshtein.normalized_similarity(joined_q, joined_c)
            if sim >= 0.85 and sim * factor > best.score:
                best = NameScore(score=sim * factor, matches=(TokenMatch(
                    query=joined_q, listed=joined_c, similarity=round(sim, 3),
                    how=how),), unmatched_query=(), unmatched_listed=())
    return best


def evidence_for(query: Query, entry: ListEntry) -> tuple[Evidence, ...]:
    """The facts beside the name that raise or lower the score (only where both sides
    have them)."""
    out: list[Evidence] = []
    if query.dob and entry.dates_of_birth:
        out.append(_dob_evidence(query.dob, entry.dates_of_birth))
    if query.country and entry.countries:
        c = query.country.lower()
        if c in entry.countries:
            out.append(Evidence(kind="country", delta=COUNTRY_MATCH,
                                detail=f"country {c} listed"))
        else:
            out.append(Evidence(kind="country", delta=COUNTRY_MISMATCH,
                                detail=f"country {c} not among {', '.join(entry.countries)}"))
    if (query.kind is not None and query.kind is not EntityKind.UNKNOWN
            and entry.kind is not EntityKind.UNKNOWN and query.kind is not entry.kind
            and not _compatible(query.kind, entry.kind)):
        out.append(Evidence(kind="kind", delta=KIND_MISMATCH,
                            detail=f"a {query.kind}, listed as a {entry.kind}"))
    return tuple(out)


def _compatible(a: EntityKind, b: EntityKind) -> bool:
    # A vessel or aircraft is owned and named like an organisation: screening an
    # organisation's name against them is legitimate.
    return EntityKind.PERSON not in (a, b)


def _dob_evidence(dob: str, listed: tuple[str, ...]) -> Evidence:
    if dob in listed:
        return Evidence(kind="dob", delta=DOB_MATCH, detail=f"date of birth {dob} listed")
    coarser = [d for d in listed if len(d) != len(dob) and min(len(d), len(dob)) >= 4
               and (d.startswith(dob) or dob.startswith(d))]
    if coarser:  # `1993` against `1993-04-17`: agrees as far as the coarser one goes
        return Evidence(kind="dob", delta=DOB_YEAR,
                        detail=f"date of birth {dob} agrees with {coarser[0]}")
    year = dob[:4]
    years = {d[:4] for d in listed if d[:4].isdigit()}
    if year in years:
        return Evidence(kind="dob", delta=DOB_YEAR, detail=f"year of birth {year} listed")
    if year.isdigit() and any(abs(int(year) - int(y)) <= 1 for y in years):
        return Evidence(kind="dob", delta=0.0,
                        detail=f"born {year}, listed {', '.join(sorted(years))}: close")
    return Evidence(kind="dob", delta=DOB_MISMATCH,
                    detail=f"born {dob}, listed {', '.join(listed)}")


def score_entry(query: Query, qform: NameForm, entry: ListEntry,
                forms: Sequence[NameForm] | None = None,
                only: Sequence[int] | None = None) -> Hit:
    """The query against every name of `entry` (its forms, if already made; `only`: just
    these of its names, the index's candidates): the best name's score, moved by the
    evidence."""
    forms = forms if forms is not None else [name_form(n, entry.kind) for n in entry.names]
    best_i, best = 0, NameScore(score=-1.0, matches=(), unmatched_query=(),
                                unmatched_listed=())
    for i in (range(len(forms)) if only is None else only):
        s = compare_names(qform, forms[i])
        if s.score > best.score:
            best_i, best = i, s
    evidence = evidence_for(query, entry)
    total = min(1.0, max(0.0, best.score + sum(e.delta for e in evidence)))
    return Hit(entry=entry, score=round(total, 4), name_score=round(best.score, 4),
               matched_name=entry.names[best_i], is_alias=best_i > 0, tokens=best.matches,
               unmatched_query=best.unmatched_query, unmatched_listed=best.unmatched_listed,
               evidence=evidence)


def screen_entries(query: Query, entries: Sequence[ListEntry], *,
                   threshold: float = THRESHOLD) -> list[Hit]:
    """The slow, obvious screening (every entry scored): the index's reference."""
    qform = name_form(query.name, query.kind or EntityKind.UNKNOWN)
    hits = [score_entry(query, qform, e) for e in entries]
    return sorted((h for h in hits if h.score >= threshold),
                  key=lambda h: (-h.score, h.entry.list_name, h.entry.source_id))
