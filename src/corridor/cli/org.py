"""`corridor org …`: an organisation's commands (issue 17). Each area adds its group."""

from __future__ import annotations

import typer

from corridor.cli import org_collections

app = typer.Typer(help="Organisations: payment requests, merchant account.",
                  no_args_is_help=True)
app.add_typer(org_collections.requests_app, name="requests")
app.add_typer(org_collections.merchant_app, name="merchant")
