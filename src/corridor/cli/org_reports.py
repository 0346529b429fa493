"""`corridor org report cash|payments|fees|forecast ORG_ID`: an organisation's treasury
reports from the platform's database (the operator's door, like `corridor compliance
reports`: whoever runs it holds the database already; members use the API or the
console, where `org.reports` is checked). The same services and files as the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.cli.platform import DatabaseUrl, DataDir, _build, _existing, _fail, _settings

report_app = typer.Typer(help="Treasury reports: cash, payments, fees, forecast.",
                         no_args_is_help=True)

OrgId = Annotated[str, typer.Argument(help="The organisation's id.")]
Format = Annotated[str, typer.Option(
    "--format", help="text, json, csv or xlsx (xlsx needs --output).")]
Output = Annotated[Path | None, typer.Option("--output", "-o",
                                             help="Write the file here (default: stdout).")]
Since = Annotated[str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD "
                                           "(default: the first of this month).")]
Until = Annotated[str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD "
                                           "(default: today).")]
FORMATS = ("text", "json", "csv", "xlsx")


def _run(report_of: Any, format: str, output: Path | None, data_dir: Path | None,
         database_url: str | None) -> None:
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import org_report_files as files
    from corridor.platform.services import org_reports as reports

    if format not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}")
    if format == "xlsx" and output is None:
        raise _fail("--format xlsx writes a binary file: give --output")
    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        report = report_of(platform.deps)
    except PlatformError as exc:
        fields = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise _fail(exc.message + (f" ({fields})" if fields else "")) from None
    finally:
        platform.close()
    if format == "json":
        data: bytes = json.dumps(reports.as_dict(report), ensure_ascii=False,
                                 indent=2).encode() + b"\n"
    elif format == "text":
        t = files.table(report)
        lines = ["  ".join(t.columns)] + ["  ".join(r) for r in files.rows_for_print(t)]
        data = ("\n".join(lines) + "\n").encode()
    else:
        data = files.content(report, format)
    if output is None:
        typer.echo(data.decode(), nl=False)
    else:
        output.write_bytes(data)
        typer.echo(f"wrote {output} ({len(data)} bytes)", err=True)


@report_app.command("cash")
def cash(org_id: OrgId, day: Annotated[str | None, typer.Option(
             "--day", help="The end of this past UTC day (default: now).")] = None,
         format: Format = "text", output: Output = None, data_dir: DataDir = None,
         database_url: DatabaseUrl = None) -> None:
    """Cash per wallet and currency: balance, reserved, in flight, available."""
    from corridor.platform.services import org_reports as reports

    _run(lambda deps: reports.cash_position(deps, None, org_id, day), format, output,
         data_dir, database_url)


@report_app.command("payments")
def payments(org_id: OrgId, by: Annotated[str, typer.Option(
                 help="department, beneficiary or corridor.")] = "department",
             since: Since = None, until: Until = None, format: Format = "text",
             output: Output = None, data_dir: DataDir = None,
             database_url: DatabaseUrl = None) -> None:
    """Payments whose money left in the period, grouped."""
    from corridor.platform.services import org_reports as reports

    _run(lambda deps: reports.payments_report(deps, None, org_id, by=by, since=since,
                                              until=until),
         format, output, data_dir, database_url)


@report_app.command("fees")
def fees(org_id: OrgId, every: Annotated[str, typer.Option(
             help="day or month.")] = "day",
         since: Since = None, until: Until = None, format: Format = "text",
         output: Output = None, data_dir: DataDir = None,
         database_url: DatabaseUrl = None) -> None:
    """Fees paid per day or month and currency."""
    from corridor.platform.services import org_reports as reports

    _run(lambda deps: reports.fees_report(deps, None, org_id, every=every, since=since,
                                          until=until),
         format, output, data_dir, database_url)


@report_app.command("forecast")
def forecast(org_id: OrgId, format: Format = "text", output: Output = None,
             data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Next month's fees per currency (weekday mean of the last four weeks), with the
    rolling-origin back-test's MAE and MAPE and the interval."""
    from corridor.platform.services import org_reports as reports

    _run(lambda deps: reports.fee_forecast(deps, None, org_id), format, output, data_dir,
         database_url)
