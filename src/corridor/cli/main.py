"""`corridor`: the command line. One typer app; each area adds a sub-app (`bench`, later
`demo`, `keys`, `node`). Commands import their implementation lazily so `--help` is fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="corridor", help="Corridor: a payment ledger and its platform.", no_args_is_help=True
)
bench = typer.Typer(help="Measure performance on this machine.", no_args_is_help=True)
app.add_typer(bench, name="bench")


@bench.command("ledger")
def bench_ledger(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-ledger.json"),
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller states, fewer rounds: seconds, not a minute.")
    ] = False,
) -> None:
    """Signature verification, transaction apply and state-root speed of the ledger."""
    from corridor.bench import ledger_bench, ledger_report, report

    config = ledger_bench.QUICK if quick else ledger_bench.FULL
    figures = ledger_bench.run(config, log=lambda line: typer.echo(line, err=True))
    rows = ledger_report.table_rows(figures)
    title = "corridor bench ledger" + (
        " --quick: smaller states, not the headline" if quick else ""
    )
    report.print_table(rows, title)
    report.write_json_atomic(json_path, ledger_report.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")


@bench.command("mempool")
def bench_mempool(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-mempool.json"),
    quick: Annotated[
        bool, typer.Option("--quick", help="2,000 transactions instead of 50,000: seconds.")
    ] = False,
) -> None:
    """The mempool on a full pool: admission per tx against the signature check, reap,
    update after a block."""
    from corridor.bench import mempool_bench, report

    config = mempool_bench.QUICK if quick else mempool_bench.FULL
    figures = mempool_bench.run(config, log=lambda line: typer.echo(line, err=True))
    rows = mempool_bench.table_rows(figures)
    report.print_table(rows, "corridor bench mempool" + (" --quick" if quick else ""))
    report.write_json_atomic(json_path, mempool_bench.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")


@bench.command("node")
def bench_node(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-node.json"),
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=1.0, help="Seconds each throughput phase is measured."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Short phases, 20k-account state: under 90 s.")
    ] = False,
) -> None:
    """A real node process under load: committed tx/s, commit latency, memory at 10^6 accounts."""
    from corridor.bench import node_bench, node_report, report

    config = node_bench.QUICK if quick else node_bench.FULL
    figures = node_bench.run(
        config, log=lambda line: typer.echo(line, err=True), duration_s=duration
    )
    rows = node_report.table_rows(figures)
    title = "corridor bench node" + (" --quick: short phases, small state" if quick else "")
    report.print_table(rows, title)
    report.write_json_atomic(json_path, node_report.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")


@bench.command("network")
def bench_network(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-network.json"),
    quick: Annotated[
        bool, typer.Option("--quick", help="Phases of seconds: a smoke run, not the headline.")
    ] = False,
) -> None:
    """4 validator processes over TCP: committed tx/s, finality, both with one validator
    killed, against one node alone in the same run."""
    from corridor.bench import network_bench, report

    config = network_bench.QUICK if quick else network_bench.FULL
    figures = network_bench.run(config, log=lambda line: typer.echo(line, err=True))
    rows = network_bench.table_rows(figures)
    title = "corridor bench network" + (" --quick: short phases, not the headline" if quick else "")
    report.print_table(rows, title)
    report.write_json_atomic(json_path, network_bench.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")


@bench.command("payments")
def bench_payments(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-payments.json"),
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=1.0, help="Seconds the throughput window lasts."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="The PostgreSQL database of the PostgreSQL pass "
                     "(an empty one; default: a throw-away server the bench starts)."),
    ] = None,
    profile: Annotated[
        bool, typer.Option("--profile", help="Sample the platform with py-spy during the "
                           "throughput window and list its hottest functions.")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="8 customers, phases of seconds: a smoke run.")
    ] = False,
) -> None:
    """Payments through the platform API to `credited` on a one-validator network, on
    SQLite and on PostgreSQL: sustained payments/s, creation -> credited latency, pg_ratio."""
    from corridor.bench import payments_bench, payments_report, report

    config = payments_bench.QUICK if quick else payments_bench.FULL
    figures = payments_bench.run(
        config, log=lambda line: typer.echo(line, err=True), database_url=database_url,
        duration_s=duration, profile=profile,
    )
    rows = payments_report.table_rows(figures)
    title = "corridor bench payments" + (" --quick: tiny load, not the headline" if quick else "")
    report.print_table(rows, title)
    for line in payments_report.profile_lines(figures):
        typer.echo(line)
    report.write_json_atomic(json_path, payments_report.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")


@bench.command("web")
def bench_web(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-web.json"),
    requests: Annotated[
        int | None, typer.Option("--requests", min=2, help="Requests per page (default 40).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="6 requests per page: a smoke run.")
    ] = False,
) -> None:
    """Every page on the demo data, signed in as the visitor it is for: server time
    p50/p95/max per page, against the API's health answer in the same run."""
    import dataclasses

    from corridor.bench import report, web_bench

    config = web_bench.QUICK if quick else web_bench.FULL
    if requests is not None:
        config = dataclasses.replace(config, requests=requests)
    figures = web_bench.run(config, log=lambda line: typer.echo(line, err=True))
    rows = web_bench.table_rows(figures)
    report.print_table(rows, "corridor bench web" + (" --quick: a smoke run" if quick else ""))
    report.write_json_atomic(json_path, web_bench.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")


@bench.command("compliance")
def bench_compliance(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-compliance.json"),
    lists: Annotated[
        Path | None, typer.Option("--lists", help="The sample lists the synthetic entries "
                                  "are made from (default: ../shared/data/sanctions).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="5,000 entries, 300 screenings; the AML quick "
                                   "history (50,000 payments): seconds.")
    ] = False,
    payments_json: Annotated[
        Path, typer.Option("--payments-json", help="The `corridor bench payments` JSON whose "
                           "compliance_ratio (compliance on / off, measured there) is "
                           "reported here.")
    ] = Path("out/bench-payments.json"),
) -> None:
    """Sanctions screening against 100,000 list entries: screenings/s, p50/p99 latency;
    AML evaluation with the `bench aml` history: evaluations/s, p99 latency, the window's
    rebuild from the store; `compliance_ratio` as `bench payments` last measured it."""
    from corridor.bench import aml_bench, compliance_bench, report

    def log(line: str) -> None:
        typer.echo(line, err=True)

    config = compliance_bench.QUICK if quick else compliance_bench.FULL
    figures = compliance_bench.run(config, log=log, lists=lists)
    aml = compliance_bench.run_aml(aml_bench.QUICK if quick else aml_bench.FULL, log=log)
    ratio = compliance_bench.compliance_ratio(payments_json)
    rows = compliance_bench.table_rows(figures, aml, ratio)
    report.print_table(rows, "corridor bench compliance" + (" --quick" if quick else ""))
    report.write_json_atomic(json_path, compliance_bench.json_document(figures, aml, rows,
                                                                       ratio))
    typer.echo(f"wrote {json_path}")

@bench.command("aml")
def bench_aml(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the figures as JSON.")
    ] = Path("out/bench-aml.json"),
    quick: Annotated[
        bool, typer.Option("--quick", help="50,000 payments of history, small detection run.")
    ] = False,
) -> None:
    """AML monitoring: evaluations/s and p50/p99 latency with 1,000,000 payments of history
    across 100,000 customers; detection on planted typologies (tuned and hold-out)."""
    from corridor.bench import aml_bench, report

    config = aml_bench.QUICK if quick else aml_bench.FULL
    figures = aml_bench.run(config, log=lambda line: typer.echo(line, err=True))
    rows = aml_bench.table_rows(figures)
    report.print_table(rows, "corridor bench aml" + (" --quick" if quick else ""))
    report.write_json_atomic(json_path, aml_bench.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")


@bench.command("batch")
def bench_batch(
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write the JSON result.")
    ] = Path("out/bench-batch.json"),
    quick: Annotated[bool, typer.Option("--quick", help="A small batch (smoke run).")] = False,
) -> None:
    """A batch of 10,000 payments from a pain.001 file (uploaded, validated, approved,
    executed until every item is credited) against single payments through the API in the
    same run: `batch_ratio` (target >= 2.0)."""
    from corridor.bench import batch_bench, report

    config = batch_bench.QUICK if quick else batch_bench.FULL
    figures = batch_bench.run(config, log=lambda line: typer.echo(line, err=True))
    rows = batch_bench.table_rows(figures)
    report.print_table(rows, "corridor bench batch" + (" --quick" if quick else ""))
    report.write_json_atomic(json_path, batch_bench.json_document(figures, rows))
    typer.echo(f"wrote {json_path}")
    if figures.batch_credited != figures.batch_items:
        raise typer.Exit(1)


def _register() -> None:
    """Sub-apps that live in their own modules."""
    from corridor.cli import (
        compliance,
        compliance_reviews,
        demo,
        genesis,
        light,
        localnet,
        node,
        org,
        platform,
        wallet,
    )

    app.add_typer(demo.app, name="demo")
    app.add_typer(node.app, name="node")
    app.add_typer(localnet.app, name="localnet")
    app.add_typer(platform.app, name="platform")
    app.add_typer(org.app, name="org")
    app.command("up")(node.up)
    app.add_typer(wallet.keys_app, name="keys")
    app.add_typer(genesis.genesis_app, name="genesis")
    app.add_typer(wallet.tx_app, name="tx")
    app.add_typer(wallet.account_app, name="account")
    app.add_typer(wallet.block_app, name="block")
    app.add_typer(light.app, name="light")
    app.add_typer(compliance.app, name="compliance")
    compliance.app.add_typer(compliance_reviews.app, name="reviews")
    compliance.app.command("risk")(compliance_reviews.risk_show)
    app.add_typer(org.app, name="org")


_register()


if __name__ == "__main__":
    app()
