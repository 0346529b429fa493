"""Bank rails: the simulated bank's signed webhook (authenticated by its HMAC signature,
not by a session) and, in development only, a small API that plays the customer's bank:
for staff, or for any signed-in user when the `dev_sim_bank` setting is on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from corridor.api.deps import DepsDep, PrincipalDep, platform
from corridor.api.json_body import JsonRoute
from corridor.api.statuses import refuses
from corridor.platform.adapters.sim_bank import NAME as SIM_BANK
from corridor.platform.adapters.sim_bank import SimBank
from corridor.platform.bootstrap import Platform
from corridor.platform.domain import money
from corridor.platform.domain.errors import Err, Kind, not_found
from corridor.platform.domain.roles import UserKind
from corridor.platform.services import rails, withdrawals
from corridor.platform.services.ports import Deps

router = APIRouter(route_class=JsonRoute, tags=["rails"])


class WebhookOut(BaseModel):
    event_id: str
    duplicate: bool
    outcome: str


@router.post("/rails/sim-bank/webhook", response_model=WebhookOut, responses={
    401: {"description": "Missing, stale or wrong signature."},
    413: {"description": "The event is too large."},
    422: {"description": "The event is not valid."}})
async def sim_bank_webhook(request: Request, deps: DepsDep) -> WebhookOut:
    """Events of the simulated bank, signed: `X-Corridor-Timestamp` (Unix seconds) and
    `X-Corridor-Signature: v1=<hex HMAC-SHA256 of "<timestamp>." + body>`. A redelivered
    event id is acknowledged and ignored."""
    body = await request.body()
    result = await run_in_threadpool(
        rails.receive_webhook, deps, SIM_BANK,
        timestamp=request.headers.get(rails.TIMESTAMP_HEADER, ""),
        signature=request.headers.get(rails.SIGNATURE_HEADER, ""), body=body)
    return WebhookOut(event_id=result.event_id, duplicate=result.duplicate,
                      outcome=result.outcome)


# --- development: play the customer's bank -------------------------------------------------


@refuses(Kind.NOT_FOUND)
def _development_only(p: Annotated[Platform, Depends(platform)]) -> None:
    if p.settings.production:
        raise not_found("page")


def _may_play_the_bank(p: Annotated[Platform, Depends(platform)], who: PrincipalDep) -> None:
    # Creating money "from a bank" is a test tool: staff only, unless development opens
    # it to every signed-in user explicitly (CORRIDOR_DEV_SIM_BANK=1).
    if who.kind is not UserKind.STAFF and not p.settings.dev_sim_bank:
        raise Err.SIM_BANK_STAFF_ONLY.error(
            "the simulated bank is "
            "for staff (or set CORRIDOR_DEV_SIM_BANK=1 in development)")


# In this order: in production the routes do not exist, whoever asks (404 before 401).
dev = APIRouter(route_class=JsonRoute, prefix="/dev/sim-bank", tags=["development"],
                dependencies=[Depends(_development_only), Depends(_may_play_the_bank)])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransferIn(Strict):
    reference: str = Field(min_length=1, max_length=40)
    amount: str = Field(min_length=1, max_length=40, examples=["250.00"])
    currency: str = Field(min_length=1, max_length=12, examples=["USD"])
    remitter_name: str | None = Field(None, min_length=1, max_length=140,
                                      description="the sending account's holder, as a bank "
                                                  "reports it (screened)")


class TransferOut(BaseModel):
    rail_ref: str
    status: str


class FlushOut(BaseModel):
    payouts_asked: int
    events_delivered: int


def _sim(deps: Deps) -> SimBank:
    sim = deps.rails.get(SIM_BANK)
    if not isinstance(sim, SimBank):
        raise Err.RAIL_UNAVAILABLE.error("no simulated bank is set up")
    return sim


@dev.post("/transfers", response_model=TransferOut, status_code=status.HTTP_202_ACCEPTED)
def send_transfer(body: TransferIn, deps: DepsDep) -> TransferOut:
    """Sends money "from your bank" to the platform's collection account, quoting a
    deposit's reference; the platform hears of it shortly (development mode only)."""
    currency = money.currency(body.currency)
    amount_minor = money.parse_major(body.amount, currency)
    rail_ref = _sim(deps).send_transfer(reference=body.reference, amount_minor=amount_minor,
                                        currency=currency, remitter_name=body.remitter_name)
    return TransferOut(rail_ref=rail_ref, status="sent")


@dev.post("/flush", response_model=FlushOut)
def flush(deps: DepsDep) -> FlushOut:
    """Fast-forwards the simulated bank: asks for due payouts and delivers every pending
    event now (development mode only)."""
    asked = withdrawals.dispatch_payouts(deps)
    return FlushOut(payouts_asked=asked, events_delivered=_sim(deps).drain())


router.include_router(dev)
