"""`corridor compliance reports …` (list, show, export) and `corridor compliance
retention` (what may be purged, and the operator's purge). Reports are read here; they
are drafted, reviewed and filed by officers through the API and the pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.cli.platform import DatabaseUrl, DataDir, _build, _existing, _fail, _settings

reports_app = typer.Typer(help="Suspicious-transaction reports: list, show, export.",
                          no_args_is_help=True)


def _line(r: Any) -> str:
    return (f"{r.id}  {r.state:<9} {r.kind} {r.number or '-':<12} case {r.case_id}  "
            f"{r.subject_name}")


@reports_app.command("list")
def reports_list(
    state: Annotated[str | None, typer.Option(help="draft, in_review or filed.")] = None,
    case: Annotated[str | None, typer.Option(help="The case's id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Reports, newest first."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import report_export, reports

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        items, total = reports.reports(platform.deps, None, state=state, case_id=case,
                                       limit=limit)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    if as_json:
        typer.echo(json.dumps({"items": [report_export.json_document(r) for r in items],
                               "total": total}, ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo("(no reports)")
    for r in items:
        typer.echo(_line(r))


def _one(report_id: str, data_dir: Path | None, database_url: str | None) -> Any:
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import reports

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        return reports.report(platform.deps, None, report_id)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()


@reports_app.command("show")
def reports_show(report_id: Annotated[str, typer.Argument(help="The report's id.")],
                 data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """A report as its JSON document (schema corridor.str/1), with whether a filed
    report still matches its content hash."""
    from corridor.platform.services import report_export, reports

    r = _one(report_id, data_dir, database_url)
    typer.echo(json.dumps(report_export.json_document(r), ensure_ascii=False, indent=2))
    if r.content_hash:
        typer.echo(f"content hash {'verified' if reports.verify(r) else 'DOES NOT MATCH'}",
                   err=True)


@reports_app.command("export")
def reports_export(
    report_id: Annotated[str, typer.Argument(help="The report's id.")],
    fmt: Annotated[str, typer.Option("--format", help="json or xml (goAML-style, "
                                     "validated against its schema).")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file "
                                             "(default: standard output).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export a report as JSON or goAML-style XML."""
    from corridor.platform.domain import reports as dom
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import report_export

    if fmt not in ("json", "xml"):
        raise _fail("--format must be json or xml")
    r = _one(report_id, data_dir, database_url)
    try:
        data = (report_export.xml_bytes(r) if fmt == "xml"
                else dom.canonical(report_export.json_document(r)))
    except PlatformError as exc:
        raise _fail(f"{exc.code}: {exc.message}") from None
    if out is None:
        typer.echo(data.decode())
        return
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data)} bytes)")


def _subject_json(s: Any) -> dict[str, Any]:
    return {"subject_type": s.subject_type, "subject_id": s.subject_id, "name": s.name,
            "ended_ms": s.ended_ms, "until_ms": s.until_ms, "purgeable": s.purgeable,
            "records": s.records, "counts": s.counts}


def retention(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    purge: Annotated[bool, typer.Option(
        "--purge", help="Delete the records whose period is over (needs --by).")] = False,
    by: Annotated[str | None, typer.Option(
        "--by", help="The operator's e-mail (the staff account the purge is audited "
        "as; it needs the operate permission).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """What the retention period keeps and what may be purged: every customer whose
    relationship ended, when, until when their records are kept, and how many of each
    kind. Purges only with --purge --by OPERATOR, audited per customer."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import freezes
    from corridor.platform.services import retention as service

    if purge and not by:
        raise _fail("--purge needs --by: the operator's e-mail")
    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        out = service.report(platform.deps, None)
        purged = (service.purge(platform.deps, freezes.acting_officer(platform.deps, by))
                  if purge and by else None)
    except PlatformError as exc:
        raise _fail(f"{exc.code}: {exc.message}") from None
    finally:
        platform.close()
    if as_json:
        doc: dict[str, Any] = {"at_ms": out.at_ms, "years": out.years, "scope": out.scope,
                               **out.summary(),
                               "subjects": [_subject_json(s) for s in out.subjects]}
        if purged is not None:
            doc["purged"] = [{"subject_id": p.subject_id, "counts": p.counts} for p in purged]
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    typer.echo(f"retention: {out.years} years after the relationship ends; "
               f"{len(out.subjects)} ended, {len(out.purgeable)} may be purged")
    from corridor.platform.domain.reports import iso

    for s in out.subjects:
        why = ("period over: may be purged" if s.purgeable
               else "nothing left" if not s.records else "kept")
        typer.echo(f"{s.subject_id}  {s.name}  ended {iso(s.ended_ms)}  kept until "
                   f"{iso(s.until_ms)}  {s.records} records  {why}")
    for p in purged or ():
        typer.echo(f"purged {p.subject_id}: {sum(p.counts.values())} records")
