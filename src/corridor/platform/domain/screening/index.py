"""The candidate index: screening one name against 100,000+ entries without scoring them
all. Every name and alias of every entry is filed under its keys (tokens, metaphones,
consonant skeletons: names.keys_of); a query gathers the names sharing its keys, each key
weighted by its rarity (inverse document frequency), keeps the best CANDIDATES_MAX, and
scores only their entries with the full matcher. Keys shared by a large part of the list
(`Mohammed`, `Company`) are skipped unless the query has nothing rarer."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from corridor.platform.domain.screening.entries import EntityKind, ListEntry
from corridor.platform.domain.screening.matcher import THRESHOLD, Hit, Query, score_entry
from corridor.platform.domain.screening.names import NameForm, keys_of, name_form, token_keys

CANDIDATES_MAX = 25  # entries scored in full per query
COMMON_KEY_SHARE = 0.02  # a key on more than this share of names is common...
COMMON_KEY_MIN = 500  # ...and more than this many
HITS_MAX = 50  # the most hits one screening returns


class ScreeningIndex:
    """Built once per set of current entries (a new list version builds a new one)."""

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self.entries = tuple(entries)
        self.forms: list[tuple[NameForm, ...]] = []
        self.name_owner: list[int] = []  # name id -> entry index
        self.first_name: list[int] = []  # entry index -> its first name's id
        self.key_norm: list[float] = []  # name id -> sqrt(its number of keys)
        postings: dict[str, list[int]] = {}
        for e_i, entry in enumerate(self.entries):
            forms = tuple(name_form(n, entry.kind) for n in entry.names)
            self.forms.append(forms)
            self.first_name.append(len(self.name_owner))
            for form in forms:
                n_id = len(self.name_owner)
                self.name_owner.append(e_i)
                keys = keys_of(form)
                self.key_norm.append(math.sqrt(len(keys)) or 1.0)
                for key in keys:
                    postings.setdefault(key, []).append(n_id)
        self.postings = postings
        n = max(1, len(self.name_owner))
        self.common = max(COMMON_KEY_MIN, int(n * COMMON_KEY_SHARE))
        self._n = n

    def __len__(self) -> int:
        return len(self.entries)

    def query_keys(self, form: NameForm) -> list[tuple[int, str]]:
        """(postings, key) the query looks up, rarest first. A token the lists know is
        looked up by its own keys; one they do not (a slip, a rare spelling) also by its
        deletion neighbourhood. Keys on more than `common` names are left out, except each
        token's rarest (every token has its say, even `Mohammed` in `Mohammed Ali`)."""
        chosen: dict[str, int] = {}
        for tokens in (form.tokens, *form.alternates):
            for t in tokens:
                known = "t:" + t in self.postings
                keys = sorted((len(self.postings[k]), k)
                              for k in token_keys(t, deletions=not known)
                              if k in self.postings)
                for rank, (df, key) in enumerate(keys):
                    if df <= self.common or rank == 0:
                        chosen[key] = df
        return sorted((df, key) for key, df in chosen.items())

    def candidates(self, form: NameForm) -> dict[int, list[int]]:
        """Entries worth scoring for `form`, best first: entry index -> which of its names
        (positions in `entry.names`) share the query's keys."""
        acc: dict[int, float] = {}
        for df, key in self.query_keys(form):
            weight = math.log(1 + self._n / df)
            for n_id in self.postings[key]:
                acc[n_id] = acc.get(n_id, 0.0) + weight
        # cosine-like: a name most of whose keys the query shares ranks above a longer
        # name sharing the same ones (`Ntidhl JSC` before `Ntidhl Atlas Group`)
        norm = self.key_norm
        out: dict[int, list[int]] = {}
        for n_id in heapq.nlargest(CANDIDATES_MAX * 2, acc,
                                   key=lambda n: acc[n] / norm[n]):
            e_i = self.name_owner[n_id]
            if e_i not in out and len(out) >= CANDIDATES_MAX:
                continue
            out.setdefault(e_i, []).append(n_id - self.first_name[e_i])
        return out

    def screen(self, query: Query, *, threshold: float = THRESHOLD,
               limit: int = HITS_MAX) -> list[Hit]:
        """The hits of `query` at or above `threshold`, best first."""
        qform = name_form(query.name, query.kind or EntityKind.UNKNOWN)
        hits = []
        for e_i, names in self.candidates(qform).items():
            hit = score_entry(query, qform, self.entries[e_i], self.forms[e_i], sorted(names))
            if hit.score >= threshold:
                hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.entry.list_name, h.entry.source_id))
        return hits[:limit]
