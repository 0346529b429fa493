"""`corridor compliance …`: sanctions lists (import, show), screening one name, and the
measured accuracy of the matcher (eval-names). Same data directory and database options
as `corridor platform …`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.cli.compliance_documents import documents_app
from corridor.cli.compliance_reports import reports_app, retention
from corridor.cli.platform import DatabaseUrl, DataDir, _build, _existing, _fail, _settings

app = typer.Typer(help="Compliance: sanctions lists, screening, freezes.",
                  no_args_is_help=True)
lists_app = typer.Typer(help="Sanctions and watch lists: import and show.",
                        no_args_is_help=True)
app.add_typer(lists_app, name="lists")
app.add_typer(documents_app, name="documents")  # supporting documents (compliance_documents.py)

FORMATS = ("ofac", "csl", "ftm")
KINDS = {"person": "person", "org": "org", "organization": "org", "company": "org",
         "vessel": "vessel", "aircraft": "aircraft", "airplane": "aircraft"}


def _files(path: Path, fmt: str) -> Any:
    from corridor.platform.services.screening import ListFiles

    if fmt == "ofac" and path.is_dir():
        path = path / "sdn.csv"
    if not path.is_file():
        raise _fail(f"no such file: {path}")
    alt = add = None
    if fmt == "ofac":  # alt.csv and add.csv beside sdn.csv, when there
        alt_p, add_p = path.with_name("alt.csv"), path.with_name("add.csv")
        alt = alt_p.read_bytes() if alt_p.is_file() else None
        add = add_p.read_bytes() if add_p.is_file() else None
    return ListFiles(file_name=path.name, main=path.read_bytes(), alt=alt, add=add)


@lists_app.command("import")
def lists_import(
    file: Annotated[Path, typer.Argument(help="The list file (OFAC: sdn.csv, with alt.csv "
                                         "and add.csv read from beside it).")],
    fmt: Annotated[str, typer.Option("--format", help="ofac, csl or ftm.")],
    list_name: Annotated[str | None, typer.Option(
        "--list", help="The list's name (default: ofac-sdn, us-csl, opensanctions).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import a list file as the list's next version (the same content again changes
    nothing); prints the version and its added/removed/changed counts, then re-screens
    every customer against the added and changed entries and prints how many alerts
    that raised."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.domain.screening.entries import ListFormat
    from corridor.platform.services import rescreen

    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}")
    files = _files(file, fmt)
    platform = _build(_settings(data_dir, database_url))
    try:
        out, again = rescreen.import_list(platform.deps, None, files, ListFormat(fmt),
                                          list_name)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    s = out.snapshot
    if not out.new:
        typer.echo(f"{s.list_name}: unchanged, still version {s.version} "
                   f"({s.entry_count} entries)")
        return
    typer.echo(f"{s.list_name}: version {s.version}, {s.entry_count} entries "
               f"(added {s.added}, removed {s.removed}, changed {s.changed})")
    typer.echo(f"re-screened {again.screened} customers against the added and changed "
               f"entries: {again.alerts} alerts raised")


@lists_app.command("show")
def lists_show(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Every imported version of every list, with its counts."""
    from corridor.platform.services import screening

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        snaps = screening.snapshots(platform.deps, None)
    finally:
        platform.close()
    if not snaps:
        typer.echo("(no lists imported)")
    for s in snaps:
        typer.echo(f"{s.list_name} v{s.version} [{s.list_format}] {s.entry_count} entries "
                   f"(+{s.added} -{s.removed} ~{s.changed}) {s.file_name} "
                   f"sha256:{s.content_hash[:12]}")


@app.command("match")
def match(
    name: Annotated[str, typer.Argument(help="The name to screen, in any script.")],
    dob: Annotated[str | None, typer.Option(help="Date of birth (YYYY, YYYY-MM or "
                                            "YYYY-MM-DD): supporting evidence.")] = None,
    country: Annotated[str | None, typer.Option(
        help="Country (ISO 3166 alpha-2): supporting evidence.")] = None,
    kind: Annotated[str | None, typer.Option(
        "--type", help="person, org, vessel or aircraft.")] = None,
    schema: Annotated[str | None, typer.Option(
        help="FollowTheMoney schema instead of --type (Person, Company, ...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Screen one name against the current lists: hits with score and explanation."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.domain.screening.entries import EntityKind
    from corridor.platform.services import screening

    which = kind or schema
    entity_kind = None
    if which:
        if which.lower() not in KINDS:
            raise _fail(f"--type must be one of {', '.join(sorted(set(KINDS.values())))}")
        entity_kind = EntityKind(KINDS[which.lower()])
    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        hits = screening.Screener(platform.deps).screen(None, name, dob=dob, country=country,
                                                        kind=entity_kind)
    except PlatformError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise _fail(exc.message + (f" ({detail})" if detail else "")) from None
    finally:
        platform.close()
    if as_json:
        typer.echo(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        typer.echo("no hits")
    for h in hits:
        e = h.entry
        typer.echo(f"{h.score:.3f}  {e.list_name}:{e.source_id} [{e.kind}] {e.name}"
                   + (f" ({', '.join(e.programmes)})" if e.programmes else ""))
        typer.echo(f"       {h.explain()}")


def hit_json(h: Any) -> dict[str, Any]:
    return {"score": h.score, "name_score": h.name_score, "list": h.entry.list_name,
            "source_id": h.entry.source_id, "kind": str(h.entry.kind), "name": h.entry.name,
            "matched_name": h.matched_name, "is_alias": h.is_alias,
            "tokens": [{"query": t.query, "listed": t.listed, "similarity": t.similarity,
                        "how": t.how} for t in h.tokens],
            "evidence": [{"kind": e.kind, "delta": e.delta, "detail": e.detail}
                         for e in h.evidence],
            "explanation": h.explain()}


@app.command("eval-names")
def eval_names(
    csv_files: Annotated[list[Path] | None, typer.Argument(
        help="Labelled CSVs (header name1,name2,is_match[,schema]); default: the project's "
        "tune and hold-out sets (tests/data/screening).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures "
                                                  "as JSON here.")] = None,
) -> None:
    """Precision, recall and F1 of the production matcher and threshold on labelled pairs."""
    from corridor.platform.domain.screening import evaluation

    paths = csv_files or evaluation.default_sets()
    results = {}
    for path in paths:
        if not path.is_file():
            raise _fail(f"no such file: {path}")
        try:
            pairs = evaluation.read_pairs(path.read_bytes(), path.name)
        except ValueError as exc:
            raise _fail(str(exc)) from None
        r = evaluation.evaluate(pairs)
        results[path.stem] = r.to_json()
        typer.echo(f"{path.stem}: pairs {r.pairs}  precision {r.precision:.3f}  recall "
                   f"{r.recall:.3f}  f1 {r.f1:.3f}  threshold {r.threshold:.2f}  "
                   f"(tp {r.tp}, fp {r.fp}, fn {r.fn}, tn {r.tn})")
    if json_out is not None:
        doc = next(iter(results.values())) if len(results) == 1 else results
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(doc, indent=2) + "\n")
        typer.echo(f"wrote {json_out}")


@app.command("eval-aml")
def eval_aml(
    csv_file: Annotated[Path, typer.Argument(
        help="The stream: header id,ts,sender,sender_country,receiver,receiver_country,"
        "amount,currency; rows in time order.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the alerts as "
                                                  "JSON here.")] = None,
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="Planted instances (from aml-traffic --labels): also print the "
        "detection and background-flagged rates.")] = None,
) -> None:
    """Run the production AML rules over a payment stream as if each row arrived at its
    ts; prints a summary, writes {alerts, evaluated, flagged_payment_ids}."""
    from corridor.platform.domain.aml import stream

    if not csv_file.is_file():
        raise _fail(f"no such file: {csv_file}")
    try:
        result = stream.evaluate(stream.read_stream(csv_file.read_bytes(), csv_file.name))
    except stream.StreamError as exc:
        raise _fail(str(exc)) from None
    by: dict[str, int] = {}
    for a in result.alerts:
        by[a["typology"]] = by.get(a["typology"], 0) + 1
    typer.echo(f"evaluated {result.evaluated}  flagged {len(result.flagged_payment_ids)}  "
               f"alerts {len(result.alerts)}  (shadow findings {result.shadow_alerts})")
    for name, n in sorted(by.items()):
        typer.echo(f"  {name}: {n}")
    if labels is not None:
        typer.echo(_detection_line(labels, set(result.flagged_payment_ids)))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_json(), indent=1) + "\n")
        typer.echo(f"wrote {json_out}")


def _detection_line(labels: Path, flagged: set[str]) -> str:
    doc = json.loads(labels.read_text())
    instances = doc["instances"]
    found = sum(any(i in flagged for i in inst["payment_ids"]) for inst in instances)
    background = set(doc["background_ids"])
    fp = len(background & flagged)
    return (f"planted instances flagged {found}/{len(instances)} "
            f"({found / max(1, len(instances)):.1%}); background payments flagged "
            f"{fp}/{len(background)} ({fp / max(1, len(background)):.2%})")


@app.command("aml-traffic")
def aml_traffic(
    csv_out: Annotated[Path, typer.Argument(help="Where to write the stream (CSV).")],
    seed: Annotated[int, typer.Option(help="The generator's seed.")] = 1,
    days: Annotated[int, typer.Option(min=30, max=3_650, help="Days of traffic.")] = 365,
    customers: Annotated[int, typer.Option(min=50, max=1_000_000,
                                           help="Background customers.")] = 1_500,
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="Also write the planted instances and background ids (JSON).")
    ] = None,
) -> None:
    """Seeded synthetic traffic with planted typologies, for eval-aml."""
    import dataclasses

    from corridor.sim import aml_traffic as sim

    settings = dataclasses.replace(sim.TUNE, seed=seed, days=days, customers=customers)
    traffic = sim.generate(settings)
    csv_out.parent.mkdir(parents=True, exist_ok=True)
    csv_out.write_text(traffic.csv_text())
    typer.echo(f"wrote {csv_out}: {len(traffic.rows)} payments, "
               f"{len(traffic.instances)} planted instances")
    if labels is not None:
        labels.write_text(json.dumps({
            "instances": [{"typology": i.typology, "payment_ids": list(i.payment_ids)}
                          for i in traffic.instances],
            "background_ids": sorted(traffic.background_ids)}) + "\n")
        typer.echo(f"wrote {labels}")
# --- freezes of holdings on chain (issue 16) ---------------------------------------------

Officer = Annotated[str, typer.Option("--by", help="The compliance officer's e-mail (the "
                                      "staff account the decision is made and audited as).")]
OrgFlag = Annotated[bool, typer.Option("--org", help="CUSTOMER is an organisation's id.")]
Customer = Annotated[str, typer.Argument(help="The customer's id or e-mail (with --org: "
                                         "the organisation's id).")]


def _freeze_line(f: Any) -> str:
    chain = f" tx {f.tx_id} block {f.height}" if f.tx_id else ""
    release = (f" released by {f.released_by}: {f.release_reason}"
               f"{f' tx {f.release_tx_id} block {f.release_height}' if f.release_tx_id else ''}"
               if f.released_by else "")
    error = f" (refused: {f.error_code})" if f.error_code else ""
    return (f"{f.id} {f.status}{error} [{f.asset_codes or '-'}] by {f.frozen_by}: "
            f"{f.reason}{f' (ref {f.reference})' if f.reference else ''}{chain}{release}")


def _decide(action: str, customer: str, org: bool, by: str, data_dir: Path | None,
            database_url: str | None, **kw: Any) -> None:
    import uuid

    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import freezes

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        deps = platform.deps
        who = freezes.acting_officer(deps, by)
        owner_type = "org" if org else "user"
        owner_id = freezes.owner_id_of(deps, owner_type, customer)
        run = freezes.freeze if action == "freeze" else freezes.unfreeze
        f = run(deps, who, owner_type, owner_id, idempotency_key=uuid.uuid4().hex, **kw)
    except PlatformError as exc:
        raise _fail(f"{exc.code}: {exc.message}") from None
    finally:
        platform.close()
    typer.echo(_freeze_line(f))


@app.command("freeze")
def freeze(
    customer: Customer,
    reason: Annotated[str, typer.Option(help="Why (audited).")],
    by: Officer,
    reference: Annotated[str | None, typer.Option(help="e.g. the case's id.")] = None,
    org: OrgFlag = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Freeze the customer's holdings on chain (the issuer's FREEZE, through the outbox)
    and stop their payments and withdrawals now."""
    _decide("freeze", customer, org, by, data_dir, database_url, reason=reason,
            reference=reference)


@app.command("unfreeze")
def unfreeze(
    customer: Customer,
    reason: Annotated[str, typer.Option(help="Why (audited).")],
    by: Officer,
    org: OrgFlag = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Lift the customer's freeze (another officer than the one who froze)."""
    _decide("unfreeze", customer, org, by, data_dir, database_url, reason=reason)


@app.command("freezes")
def freezes_(
    customer: Customer,
    by: Officer,
    org: OrgFlag = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The customer's freezes, newest first."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import freezes

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        deps = platform.deps
        who = freezes.acting_officer(deps, by)
        owner_type = "org" if org else "user"
        items, _ = freezes.history(deps, who, owner_type,
                                   freezes.owner_id_of(deps, owner_type, customer))
    except PlatformError as exc:
        raise _fail(f"{exc.code}: {exc.message}") from None
    finally:
        platform.close()
    if not items:
        typer.echo("(no freezes)")
    for f in items:
        typer.echo(_freeze_line(f))
# --- alerts and cases (read-only here: decisions are an officer's, through the API/pages) ---

alerts_app = typer.Typer(help="Compliance alerts: list and show.", no_args_is_help=True)
cases_app = typer.Typer(help="Compliance cases: list and show; --overdue: the cases past a "
                        "due time of their SLA.", invoke_without_command=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(cases_app, name="cases")


def _alert_line(a: Any) -> str:
    return (f"{a.id}  {a.state:<8} {a.monitor}/{a.typology} {a.outcome} score {a.score:.3f}  "
            f"{a.source_type} {a.source_id}  case {a.case_id}")


def _alert_json(a: Any) -> dict[str, Any]:
    import dataclasses

    out = dataclasses.asdict(a)
    out["movement_ids"], out["parties"] = list(a.movement_ids), list(a.parties)
    out["score"] = a.score
    return out


@alerts_app.command("list")
def alerts_list(
    state: Annotated[str | None, typer.Option(help="open, cleared, released, returned, "
                                              "closed.")] = None,
    typology: Annotated[str | None, typer.Option(help="e.g. sanctions.")] = None,
    customer: Annotated[str | None, typer.Option(help="The customer's id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Alerts, newest first."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import compliance

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        items, total = compliance.alerts(platform.deps, None, state=state, typology=typology,
                                         subject_id=customer, limit=limit)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    if as_json:
        typer.echo(json.dumps({"items": [_alert_json(a) for a in items], "total": total},
                              ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo("(no alerts)")
    for a in items:
        typer.echo(_alert_line(a))


@alerts_app.command("show")
def alerts_show(alert_id: Annotated[str, typer.Argument(help="The alert's id.")],
                data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """One alert with its explanation, as JSON."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import compliance

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        found = compliance.alert(platform.deps, None, alert_id)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    typer.echo(json.dumps(_alert_json(found), ensure_ascii=False, indent=2))


@cases_app.callback()
def cases_overdue(
    ctx: typer.Context,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="The open cases past a due time (first action, resolution, the "
        "customer's deadline to answer), oldest first, with what is late.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Compliance cases: list and show; --overdue lists the cases past their SLA."""
    if ctx.invoked_subcommand is not None:
        return
    if not overdue:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    from corridor.platform.services import case_sla

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        rows = case_sla.overdue(platform.deps, None)
    finally:
        platform.close()
    if not rows:
        typer.echo("(no case is overdue)")
    for r in rows:
        late = ", ".join(f"{b.kind} due {b.due_ms}" for b in r.sla.breaches)
        flag = "escalated" if r.case.escalated_ms else "not yet escalated"
        typer.echo(f"{r.case.id}  {r.customer_name} ({r.case.subject_type} "
                   f"{r.case.subject_id})  {r.sla.severity}  {late}  [{flag}]")


@cases_app.command("list")
def cases_list(
    state: Annotated[str, typer.Option(help="open or closed.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Cases in one state, oldest first (the queue's order)."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import compliance

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        items, total = compliance.cases(platform.deps, None, state=state, limit=limit)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    if not items:
        typer.echo("(no cases)")
    for c in items:
        typer.echo(f"{c.id}  {c.state:<6} {c.subject_type} {c.subject_id}  "
                   f"assigned {c.assigned_to or '-'}  opened {c.opened_ms}")
    if total > len(items):
        typer.echo(f"... {total - len(items)} more")


@cases_app.command("show")
def cases_show(case_id: Annotated[str, typer.Argument(help="The case's id.")],
               data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """One case with its evidence: alerts and their hits, held payments, the customer's
    KYC summary, notes and decisions."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.domain.money import format_minor
    from corridor.platform.services import compliance

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        v = compliance.case(platform.deps, None, case_id)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    c = v.case
    typer.echo(f"case {c.id} [{c.state}] {v.customer_name} ({c.subject_type} {c.subject_id})")
    typer.echo(f"  assigned {c.assigned_to or '-'}; released by {c.released_by or '-'}; "
               f"closed by {c.closed_by or '-'}")
    if v.kyc:
        typer.echo(f"  KYC {v.kyc['status']} tier {v.kyc['tier']} risk {v.kyc['risk'] or '-'}")
    for a in v.alerts:
        typer.echo("  alert " + _alert_line(a))
        for h in a.explanation.get("hits", ()):
            typer.echo(f"    {h['score']:.3f} {h['list']}:{h['source_id']} {h['entry_name']}: "
                       f"{h['text']}")
    for m in v.movements:  # payments, deposits, withdrawals, refunds the alerts concern
        typer.echo(f"  {m.kind} {m.id} [{m.status}{', held' if m.held else ''}] "
                   f"{format_minor(m.amount_minor, m.currency)} {m.currency}"
                   + (f" {m.counterparty}" if m.counterparty else ""))
    for n in v.notes:
        typer.echo(f"  note {n.created_ms} {n.author_id}: {n.text}")
    for d in v.decisions:
        typer.echo(f"  decision {d.created_ms} {d.kind} by {d.officer_id}: {d.note}")


# --- suspicious-transaction reports and retention (cli/compliance_reports.py) ---------------
app.add_typer(reports_app, name="reports")
app.command("retention")(retention)
# --- the supervision feed (issue 16, regulator) -----------------------------------------------


def _feed_line(e: Any) -> str:
    d = e.data
    what = " ".join(f"{k}={d[k]}" for k in ("typology", "outcome", "score", "status", "sell",
                                             "source_id", "case_id", "amount_minor",
                                             "currency") if d.get(k) is not None)
    return f"{e.id}  {e.at_ms}  {e.kind:<8} {e.object_type} {e.object_id}  {what}".rstrip()


@app.command("feed")
def feed(
    after: Annotated[int | None, typer.Option(
        "--after", min=0, help="Resume after this event id (the last one printed); "
        "default: the newest events (--recent), then what comes.")] = None,
    recent: Annotated[int, typer.Option("--recent", min=0, max=200,
                                        help="Events shown first when not resuming.")] = 10,
    follow: Annotated[bool, typer.Option("--follow/--no-follow",
                                         help="Keep printing new events (Ctrl-C ends).")] = True,
    poll_ms: Annotated[int, typer.Option("--poll-ms", min=100, max=60_000)] = 1_000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The live feed of new alerts, holds, releases, returns and freezes, read from the
    platform's audit trail (as GET /v1/regulator/feed serves it): one line per event,
    its id first, so `--after ID` resumes without loss or repeats. Opening it is audited."""
    import time

    from corridor.platform.services import supervision

    platform = _build(_existing(_settings(data_dir, database_url)))
    deps = platform.deps

    def show(events: list[Any]) -> None:
        for e in events:
            typer.echo(json.dumps(e.json(), ensure_ascii=False, default=str) if as_json
                       else _feed_line(e))

    try:
        if after is None and recent:  # the newest, then on from where they were read
            newest, cursor = supervision.feed_recent(deps, None, recent)
            show(list(reversed(newest)))
        else:
            cursor = supervision.feed_start(deps, None, after)
        while True:
            events, cursor = supervision.feed_after(deps, None, cursor)
            show(events)
            if events:
                continue
            if not follow:
                return
            time.sleep(poll_ms / 1000)
    except KeyboardInterrupt:
        return
    finally:
        platform.close()
