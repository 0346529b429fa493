"""`corridor compliance documents …`: payments held for supporting documents (issue 16,
authenticity review), read-only: the waiting list by state, and one payment's review with
its documents (names, sizes, SHA-256), checks and travel-rule record. The check itself is
an officer's, through the API or the pages (it is audited under their name)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from corridor.cli.platform import DatabaseUrl, DataDir, _build, _existing, _fail, _settings

documents_app = typer.Typer(help="Payments held for supporting documents: list and show.",
                            no_args_is_help=True)


@documents_app.command("list")
def documents_list(
    state: Annotated[str | None, typer.Option(
        help="documents_required, documents_received (default), agreed, inconsistent.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Payments held for documents in one state, oldest first."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.domain.money import format_minor
    from corridor.platform.services import authenticity

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        items = authenticity.queue(platform.deps, None, state=state, limit=limit)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    if not items:
        typer.echo("(no payments)")
    for r in items:
        typer.echo(f"{r.id}  {r.state:<18} {r.purpose} {format_minor(r.usd_minor, 'USD')} USD  "
                   f"{r.sender_country or '?'}->{r.receiver_country or '?'}  "
                   f"{r.owner_type} {r.owner_id}")


def _view_json(v: Any) -> dict[str, Any]:
    import dataclasses

    p, r = v.payment, v.review
    return {
        "payment_id": p.id, "status": p.status, "purpose": p.purpose,
        "sell": f"{p.sell_amount_minor} {p.sell_code} (minor units)",
        "review": None if r is None else {k: getattr(r, k) for k in (
            "state", "usd_minor", "threshold_usd_minor", "sender_country",
            "receiver_country", "created_ms", "updated_ms")},
        "documents": [{k: getattr(d, k) for k in ("id", "kind", "file_kind", "size",
                                                   "sha256", "created_ms")}
                      for d in v.documents],
        "checks": [dataclasses.asdict(c) for c in v.checks],
        "travel_rule": v.travel_rule.as_json() if v.travel_rule is not None else None,
    }


@documents_app.command("show")
def documents_show(payment_id: Annotated[str, typer.Argument(help="The payment's id.")],
                   data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """One payment's review, documents, checks and travel-rule record, as JSON (audited)."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import authenticity

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        v = authenticity.staff_view(platform.deps, None, payment_id)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    typer.echo(json.dumps(_view_json(v), ensure_ascii=False, indent=2))
