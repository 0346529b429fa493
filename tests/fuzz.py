"""The OpenAPI fuzzer (schemathesis) over an app, shared by the platform API and node RPC
fuzz tests.

Every operation of the schema gets `examples` generated requests that fit it and as many
that do not, each sent once per role (anonymous, a customer, staff...). Checks: no server
error (5xx), every status the operation answers is documented, and a body conforms to
its documented schema and content type. Failures are collected, not stopped at, so one run
reports every problem; no shrinking, so the time is bounded by the example count.

Reproducible: the examples derive from `seed` only (Hypothesis database off). The default
test run is bounded (CORRIDOR_FUZZ_EXAMPLES, default below); `bash scripts/fuzz.sh` runs
more, with another seed if asked.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping

import hypothesis
import hypothesis.errors
from hypothesis import HealthCheck, Phase
from hypothesis.strategies import SearchStrategy
from schemathesis import BaseSchema, Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("CORRIDOR_FUZZ_EXAMPLES", "6"))  # per operation and mode
SEED = int(os.environ.get("CORRIDOR_FUZZ_SEED", "14"))
LIVE = os.environ.get("CORRIDOR_FUZZ_LIVE") == "1"  # also against live processes
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance]

# A role: its name and a function giving the headers of its next request, told the last
# response it got (so a role whose session the fuzzer ended by signing out signs in again).
Headers = Callable[[Response | None], Mapping[str, str]]


@dataclasses.dataclass
class Report:
    operations: int = 0
    requests: int = 0
    statuses: dict[int, int] = dataclasses.field(default_factory=dict)
    failures: dict[tuple[str, str, str], str] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # shown, not checked

    def headline(self) -> str:
        return "\n".join([self.summary().splitlines()[0]] + [
            f"- {op} [{role}] {title}: {detail.split('Received: ')[-1][:40]!r}"
            for (op, role, title), detail in sorted(self.failures.items())])

    def summary(self) -> str:
        lines = [f"{self.operations} operations, {self.requests} requests, "
                 f"{len(self.failures)} distinct failures; "
                 f"statuses {sorted(self.statuses.items())}; slowest "
                 + ", ".join(f"{op} {s:.1f} s" for op, s in sorted(
                     self.seconds.items(), key=lambda kv: -kv[1])[:5])]
        lines += [f"- {op} [{role}] {title}\n{detail}"
                  for (op, role, title), detail in sorted(self.failures.items())]
        return "\n".join(lines)


def _record(report: Report, case: Case, role: str, exc: FailureGroup) -> None:
    for failure in exc.exceptions:
        title = getattr(failure, "title", type(failure).__name__)
        key = (case.operation.label, role, str(title))
        if key not in report.failures:
            report.failures[key] = str(exc)[:3000]


def run(schema: BaseSchema, roles: Mapping[str, Headers], *, examples: int = EXAMPLES,
        seed: int = SEED, skip: Iterable[str] = (), known: Mapping[str, str] | None = None,
        ) -> Report:
    """Fuzzes every operation of `schema` but those labelled in `skip` ("GET /v1/x").
    `known`: path parameters naming real records (e.g. an organisation of a role): each
    operation whose path parameters are all known gets one more pass with them, so its
    requests get past "no such thing" into what it does."""
    report = Report()
    last: dict[str, Response | None] = dict.fromkeys(roles)
    skipped = set(skip)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in skipped:
            continue
        report.operations += 1
        started = time.perf_counter()
        names = {p.name for p in operation.path_parameters}
        passes: list[tuple[GenerationMode, dict[str, str] | None]] = [
            (GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if known and names and names <= set(known):
            passes.append((GenerationMode.POSITIVE, {n: known[n] for n in names}))
        for mode, path in passes:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path)
            try:
                _fuzz(strategy, roles, last, report, examples=examples, seed=seed)
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to break
        report.seconds[operation.label] = time.perf_counter() - started
    return report


def _fuzz(strategy: SearchStrategy[Case], roles: Mapping[str, Headers],
          last: dict[str, Response | None], report: Report, *, examples: int,
          seed: int) -> None:
    @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis.seed(seed)
    @hypothesis.given(case=strategy)
    def fuzz(case: Case) -> None:
        for role, headers_for in roles.items():
            headers = dict(headers_for(last[role]))
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # in-process, the app's unhandled error itself
                report.requests += 1
                key = (case.operation.label, role, "Server error")
                report.failures.setdefault(key, "".join(traceback.format_exception(exc))[-3000:])
                continue
            last[role] = response
            report.requests += 1
            report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as exc:
                _record(report, case, role, exc)

    fuzz()
