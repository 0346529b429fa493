"""Sanctions screening speed: `corridor bench compliance`.

A list of `entries` synthetic subjects is made from the real sample lists
(../shared/data/sanctions, or the copy named by --lists): the tokens of their names and
aliases in every script are the material; new tokens are made by recombining pieces of
real ones, drawn with a long-tailed (Zipf-like) frequency as real surnames are, and a share
of the names is written in Cyrillic or Arabic by ICU transliteration, or in Han characters
taken from real Han names. Each subject gets aliases, and some a date of birth and
countries. The index of them is built (timed: `index_build_s`), then `queries` names are
screened one after the other on one core: half are variations of listed names (a typo,
another order, a missing token), half common names of people not listed. Reported:
`screenings_per_s` and the latency of one screening, `screening_p50_ms` and
`screening_p99_ms` (target: p99 <= 20 ms at 100,000 entries).

The AML engine's speed is measured in the same run by the AML bench's own code
(corridor.bench.aml_bench, its FULL or QUICK history; its detection runs are left to
`corridor bench aml`): `aml_evals_per_s`, `aml_eval_p99_ms` and the history they were
measured against, `aml_history_payments`.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.bench import aml_bench
from corridor.bench.report import Row, Target, machine_json, percentile, targets_json
from corridor.platform.domain.screening import readers
from corridor.platform.domain.screening.entries import EntityKind, ListEntry, make_entry
from corridor.platform.domain.screening.evaluation import sample_lists, typo
from corridor.platform.domain.screening.index import ScreeningIndex
from corridor.platform.domain.screening.matcher import THRESHOLD, Query, score_entry
from corridor.platform.domain.screening.names import name_form, scripts_of

Log = Callable[[str], None]
TARGET_P99_MS = Target(op="<=", value=20.0)
TARGET_COMPLIANCE_RATIO = Target(op=">=", value=0.80)
ZIPF_S = 0.8
TIE_HITS = 10
TARGET_INDEX_RECALL = Target(op=">=", value=0.99)  # blocking loses (almost) nothing
COMMON_NAMES = Path(__file__).resolve().parents[3] / "tests" / "data" / "screening" / \
    "common-names.txt"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceBenchConfig:
    quick: bool
    entries: int
    queries: int
    seed: int = 16


FULL = ComplianceBenchConfig(quick=False, entries=100_000, queries=2_000)
QUICK = ComplianceBenchConfig(quick=True, entries=5_000, queries=300)


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceFigures:
    config: ComplianceBenchConfig
    entries: int
    names: int
    index_build_s: float
    screenings_per_s: float
    p50_ms: float
    p99_ms: float
    p99_cpu_ms: float
    mean_hits: float
    # of the varied listed names the matcher matches, the share the index found (or lost in a
    # tie with TIE_HITS others scoring as well)
    index_recall: float
    elapsed_s: float


def _real_entries(lists: Path) -> list[ListEntry]:
    ofac = lists / "ofac"
    out = readers.read_ofac((ofac / "sdn.csv").read_bytes(), (ofac / "alt.csv").read_bytes(),
                            (ofac / "add.csv").read_bytes())
    out += readers.read_csl((lists / "csl" / "consolidated.csv").read_bytes())
    for f in sorted((lists / "ftm").glob("*.json")):
        out += readers.read_ftm(f.read_bytes())
    return out


class _Synth:
    """Names like the real ones: tokens recombined from real pieces, long-tailed."""

    def __init__(self, real: list[ListEntry], common: list[str], rng: random.Random) -> None:
        import icu  # type: ignore[import-untyped]  # PyICU (rigour's transliteration uses it)

        self.rng = rng
        self.to_cyrillic = icu.Transliterator.createInstance("Latin-Cyrillic")
        self.to_arabic = icu.Transliterator.createInstance("Latin-Arabic")
        latin = [t.lower() for e in real for n in e.names for t in n.replace(",", " ").split()
                 if t.isascii() and t.isalpha() and len(t) > 2]
        pieces = [t[i:i + 3] for t in latin for i in range(0, len(t), 3)]
        self.pieces = sorted(set(pieces))
        self.han = sorted({c for n in common + [x for e in real for x in e.names]
                           for c in n if "Han" in scripts_of(c)})
        self.person_words = self._vocabulary(20_000)
        self.org_words = self._vocabulary(8_000)
        self.org_types = ["LLC", "Ltd", "JSC", "Limited", "Company", "GmbH", "S.A.", "Inc."]

    def _vocabulary(self, n: int) -> tuple[list[str], list[float]]:
        """`n` words and their cumulative Zipf weights (exponent ZIPF_S: the commonest
        name word is a few percent of names, as `Wang` or `Mohammed` are)."""
        words: dict[str, None] = {}
        while len(words) < n:
            k = self.rng.choice((2, 2, 3))
            words["".join(self.rng.choice(self.pieces) for _ in range(k)).capitalize()] = None
        cum, total = [], 0.0
        for rank in range(1, n + 1):
            total += rank ** -ZIPF_S
            cum.append(total)
        return list(words), cum

    def _zipf(self, vocabulary: tuple[list[str], list[float]]) -> str:
        words, cum = vocabulary
        return self.rng.choices(words, cum_weights=cum)[0]

    def script(self, name: str) -> str:
        r = self.rng.random()
        if r < 0.12:
            return str(self.to_cyrillic.transliterate(name))
        if r < 0.17:
            return str(self.to_arabic.transliterate(name))
        if r < 0.22 and self.han:
            return "".join(self.rng.choice(self.han) for _ in range(self.rng.choice((2, 3, 3))))
        return name

    def entry(self, i: int) -> ListEntry:
        rng = self.rng
        if rng.random() < 0.6:
            parts = [self._zipf(self.person_words) for _ in range(rng.choice((2, 2, 3)))]
            name = " ".join(parts)
            names = [name, " ".join(reversed(parts)), self.script(name)]
            kind = EntityKind.PERSON
            dob = [f"{rng.randrange(1940, 2003)}-{rng.randrange(1, 13):02d}-"
                   f"{rng.randrange(1, 29):02d}"] if rng.random() < 0.5 else []
        else:
            parts = [self._zipf(self.org_words) for _ in range(rng.choice((1, 2, 2, 3)))]
            name = " ".join(parts) + " " + rng.choice(self.org_types)
            names = [name, self.script(" ".join(parts))]
            kind, dob = EntityKind.ORG, []
        return make_entry(list_name="synthetic", source_id=f"s{i}", kind=kind, names=names,
                          dates_of_birth=dob,
                          countries=[rng.choice(("ru", "ir", "kp", "sy", "cn", "by", "ve"))])


def _queries(entries: list[ListEntry], common: list[str], n: int, rng: random.Random
             ) -> list[tuple[Query, ListEntry | None]]:
    """(query, the listed entry it varies, or None for an unlisted common name)."""
    out: list[tuple[Query, ListEntry | None]] = []
    for i in range(n):
        if i % 2:
            out.append((Query(name=rng.choice(common)), None))
            continue
        e = rng.choice(entries)
        tokens = e.name.split()
        how = rng.randrange(3)
        if how == 0:
            j = rng.randrange(len(tokens))
            tokens[j] = typo(tokens[j], rng)
        elif how == 1:
            tokens.reverse()
        elif len(tokens) > 2:
            tokens.pop(1)
        out.append((Query(name=" ".join(tokens), kind=e.kind), e))
    return out


def _score(q: Query, listed: ListEntry) -> float:
    """The matcher alone (no index) on the varied entry."""
    return score_entry(q, name_form(q.name, q.kind or EntityKind.UNKNOWN), listed).score


def run(config: ComplianceBenchConfig, log: Log, lists: Path | None = None
        ) -> ComplianceFigures:
    started = time.perf_counter()
    rng = random.Random(config.seed)
    real = _real_entries(lists or sample_lists())
    common = [n for n in COMMON_NAMES.read_text().splitlines() if n.strip()]
    synth = _Synth(real, common, rng)
    entries = real + [synth.entry(i) for i in range(config.entries - len(real))]
    log(f"{len(entries):,} entries ({len(real)} real), building the index")
    t0 = time.perf_counter()
    index = ScreeningIndex(entries)
    build_s = time.perf_counter() - t0
    gc.freeze()  # the index is long-lived: keep the collector from walking it each pass
    log(f"index built in {build_s:.1f} s; screening {config.queries:,} names")
    queries = _queries(entries, common, config.queries, rng)
    for q, _e in queries[:20]:  # warm the caches of the query side
        index.screen(q)
    latencies: list[float] = []
    cpu: list[float] = []  # this thread's CPU time: the work, without the machine's load
    hits = found = matchable = 0
    t1 = time.perf_counter()
    for q, listed in queries:
        a, a_cpu = time.perf_counter(), time.thread_time()
        got = index.screen(q)
        latencies.append((time.perf_counter() - a) * 1000)
        cpu.append((time.thread_time() - a_cpu) * 1000)
        hits += len(got)
        own = _score(q, listed) if listed is not None else 0.0
        if listed is not None and own >= THRESHOLD:
            matchable += 1
            # found, or lost only a tie: as many listed subjects as TIE_HITS scored at least
            # as well (a common one-word company name is listed hundreds of times over)
            found += (any(h.entry.source_id == listed.source_id for h in got)
                      or sum(h.score >= own for h in got) >= TIE_HITS)
    total = time.perf_counter() - t1
    latencies.sort()
    cpu.sort()
    return ComplianceFigures(
        config=config, entries=len(entries), names=len(index.name_owner),
        index_build_s=round(build_s, 2),
        screenings_per_s=round(len(queries) / total, 1),
        p50_ms=round(statistics.median(latencies), 3),
        p99_ms=round(percentile(latencies, 99), 3),
        p99_cpu_ms=round(percentile(cpu, 99), 3), mean_hits=round(hits / len(queries), 2),
        index_recall=round(found / matchable, 4) if matchable else 1.0,
        elapsed_s=round(time.perf_counter() - started, 1))


AML_ROWS = ("aml_evals_per_s", "aml_eval_p99_ms", "aml_rebuild_s",
            "aml_rebuild_movements_per_s")
PAYMENTS_JSON = Path("out/bench-payments.json")  # where `corridor bench payments` writes


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceRatio:
    """`compliance_ratio` as `corridor bench payments` measured it (its two SQLite legs,
    compliance on and off, in one run): this bench reads that run's JSON rather than run
    a node and the platform twice more. None when no such run is there."""

    value: float | None
    source: str


def compliance_ratio(path: Path = PAYMENTS_JSON) -> ComplianceRatio:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return ComplianceRatio(value=None, source=f"no {path}: run corridor bench payments")
    value = doc.get("compliance_ratio")
    if not isinstance(value, int | float):
        return ComplianceRatio(value=None, source=f"{path} has no compliance_ratio (older run)")
    return ComplianceRatio(value=round(float(value), 3),
                           source=f"{path}, quick={doc.get('quick')}, "
                                  f"on {doc.get('payments_per_s', 0):.1f}/s, off "
                                  f"{doc.get('payments_per_s_compliance_off', 0):.1f}/s")


def run_aml(config: aml_bench.AmlBenchConfig, log: Log) -> aml_bench.AmlFigures:
    """The AML bench's speed measurement with `config`'s history (no detection runs)."""
    gc.unfreeze()  # the screening run's frozen index is garbage now: let it go first
    gc.collect()
    return aml_bench.run(dataclasses.replace(config, detection=()), log)


def table_rows(f: ComplianceFigures, aml: aml_bench.AmlFigures,
               ratio: ComplianceRatio | None = None) -> list[Row]:
    aml_rows = [r for r in aml_bench.table_rows(aml) if r.name in AML_ROWS]
    assert sorted(r.name for r in aml_rows) == sorted(AML_ROWS), aml_rows
    ratio = ratio or ComplianceRatio(value=None, source="not read")
    return [
        Row(name="screenings_per_s", value=f.screenings_per_s, unit="/s",
            note=f"one core, {f.entries:,} entries ({f.names:,} names and aliases)"),
        Row(name="screening_p50_ms", value=f.p50_ms, unit="ms"),
        Row(name="screening_p99_ms", value=f.p99_ms, unit="ms", target=TARGET_P99_MS,
            note="half variations of listed names, half unlisted common names"),
        Row(name="screening_p99_cpu_ms", value=f.p99_cpu_ms, unit="ms",
            note="the same, in this thread's CPU time (other load on the machine left out)"),
        Row(name="index_build_s", value=f.index_build_s, unit="s",
            note="once per list version"),
        Row(name="mean_hits", value=f.mean_hits, note="hits per screening at the threshold"),
        Row(name="index_recall", value=f.index_recall, target=TARGET_INDEX_RECALL,
            note=f"varied listed names the matcher matches, found (or {TIE_HITS}+ as good)"),
        *aml_rows,
        Row(name="compliance_ratio", value=ratio.value, target=TARGET_COMPLIANCE_RATIO,
            note=ratio.source),
    ]


def json_document(f: ComplianceFigures, aml: aml_bench.AmlFigures, rows: list[Row],
                  ratio: ComplianceRatio | None = None) -> dict[str, Any]:
    ratio = ratio or ComplianceRatio(value=None, source="not read")
    return {
        "bench": "compliance",
        "quick": f.config.quick,
        "entries": f.entries,
        "names": f.names,
        "queries": f.config.queries,
        "screenings_per_s": f.screenings_per_s,
        "screening_p50_ms": f.p50_ms,
        "screening_p99_ms": f.p99_ms,
        "screening_p99_cpu_ms": f.p99_cpu_ms,
        "index_build_s": f.index_build_s,
        "mean_hits": f.mean_hits,
        "index_recall": f.index_recall,
        "aml_evals_per_s": aml.evals_per_s,
        "aml_eval_p99_ms": aml.p99_ms,
        "aml_history_payments": aml.config.history,
        "aml_customers": aml.config.customers,
        "aml_evals": aml.config.evals,
        **aml_bench.rebuild_json(aml.rebuild),
        "compliance_ratio": ratio.value,
        "compliance_ratio_source": ratio.source,
        "elapsed_s": round(f.elapsed_s + aml.elapsed_s, 1),
        "targets": targets_json(rows),
        "machine": machine_json(),
    }
