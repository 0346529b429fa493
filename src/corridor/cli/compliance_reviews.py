"""`corridor compliance reviews due|run` and `corridor compliance risk`: KYC re-reviews
(the platform's ReviewWorker runs `run` every minute; this runs it once) and a customer's
risk rating with its factors. Same data directory and database options as
`corridor platform …`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from corridor.cli.platform import DatabaseUrl, DataDir, _build, _existing, _fail, _settings

app = typer.Typer(help="KYC re-reviews: list the due ones, open them.", no_args_is_help=True)


def _line(rec: Any) -> str:
    opened = f"opened {rec.review_opened_ms}" if rec.review_opened_ms else "not opened"
    return (f"{rec.id}  {rec.subject_type} {rec.subject_id}  {rec.status:<11} tier {rec.tier} "
            f"risk {rec.risk or '-'}  due {rec.review_due_ms}  {opened}")


@app.command("due")
def reviews_due(
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """KYC records whose re-review date has come, most overdue first."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import reviews

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        items = reviews.due(platform.deps, None, limit=limit)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    if as_json:
        typer.echo(json.dumps([{"id": r.id, "subject_type": r.subject_type,
                                "subject_id": r.subject_id, "status": r.status,
                                "tier": r.tier, "risk": r.risk,
                                "review_due_ms": r.review_due_ms,
                                "review_opened_ms": r.review_opened_ms} for r in items],
                              indent=2))
        return
    if not items:
        typer.echo("(no review due)")
    for r in items:
        typer.echo(_line(r))


@app.command("run")
def reviews_run(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Open every due re-review now: the record waits for the customer, who is told (inbox
    and e-mail) and limited until accepted again. Opens nothing twice."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import reviews

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        total: list[str] = []
        while True:  # a round opens at most reviews.BATCH
            opened = reviews.run(platform.deps).record_ids
            total.extend(opened)
            if len(opened) < reviews.BATCH:
                break
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    for record_id in total:
        typer.echo(f"opened {record_id}")
    typer.echo(f"{len(total)} review(s) opened")


def risk_show(
    customer: Annotated[str, typer.Argument(help="The customer's id (with --org: the "
                                            "organisation's id).")],
    org: Annotated[bool, typer.Option("--org", help="CUSTOMER is an organisation.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """A customer's current risk rating with its factors, as JSON."""
    from corridor.platform.services import risk

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        with platform.deps.reader() as uow:
            row = risk.latest(uow, "org" if org else "user", customer)
    finally:
        platform.close()
    if row is None:
        raise _fail("not rated (ratings start at KYC acceptance)")
    typer.echo(json.dumps({"level": row.level, "points": row.points, "policy": row.policy,
                           "trigger": row.trigger, "computed_ms": row.computed_ms,
                           "factors": [{"name": f.name, "points": f.points,
                                        "evidence": f.evidence} for f in row.factors]},
                          ensure_ascii=False, indent=2))
