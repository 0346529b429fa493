"""An organisation's treasury reports (issue 17): cash position, payments by department,
beneficiary or corridor, fees paid and the fee forecast, as JSON or as a CSV/XLSX file
(`format`). Money is in integer minor units. Readable with `org.reports` (owner, admin,
approver, auditor); services/org_reports.py says how each figure is computed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from corridor.api.deps import DepsDep, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain.forecast import WINDOW_DAYS
from corridor.platform.services import org_report_files as files
from corridor.platform.services import org_reports as reports
from corridor.platform.services.ports import Deps

router = APIRouter(route_class=JsonRoute, prefix="/orgs", tags=["organisations"])

OrgId = Annotated[str, Path(max_length=64)]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC)")]
Format = Literal["json", "csv", "xlsx"]
FILES: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {},
                           files.MEDIA_TYPES["xlsx"]: {}}}}
METHOD = (f"Weekday mean of the last {WINDOW_DAYS} complete days, summed over the days of "
          "next month; error from a rolling-origin back-test over the last complete months "
          "(MAE in minor units, MAPE in percent); interval: the forecast widened by the "
          "largest relative error of the back-test.")


def _answer(deps: Deps, org_id: str, report: files.Report, format: str) -> Any:
    if format == "json":
        return reports.as_dict(report)
    return Response(files.content(report, format), media_type=files.MEDIA_TYPES[format],
                    headers=files.headers(report, org_id, deps.clock.now_ms(), format))


@router.get("/{org_id}/reports/cash", responses=FILES)
def cash(org_id: OrgId, who: PrincipalDep, deps: DepsDep, day: Day = None,
         format: Format = "json") -> Any:
    """Cash per wallet and currency now, or at the end of a past UTC day: balance,
    reserved (payments waiting for a decision), in flight (debits sent to the chain, not
    decided) and available."""
    return _answer(deps, org_id, reports.cash_position(deps, who, org_id, day), format)


@router.get("/{org_id}/reports/payments", responses=FILES)
def payments(org_id: OrgId, who: PrincipalDep, deps: DepsDep,
             by: Literal["department", "beneficiary", "corridor"] = "department",
             since: Annotated[Day, Query(alias="from")] = None,
             until: Annotated[Day, Query(alias="to")] = None,
             format: Format = "json") -> Any:
    """Payments whose money left in the period [from, to] (UTC days; by default this month
    so far), grouped: count, amount (fees included) and fees per group and currency."""
    report = reports.payments_report(deps, who, org_id, by=by, since=since, until=until)
    return _answer(deps, org_id, report, format)


@router.get("/{org_id}/reports/fees", responses=FILES)
def fees(org_id: OrgId, who: PrincipalDep, deps: DepsDep,
         every: Literal["day", "month"] = "day",
         since: Annotated[Day, Query(alias="from")] = None,
         until: Annotated[Day, Query(alias="to")] = None,
         format: Format = "json") -> Any:
    """Fees paid per day or month and currency in the period, zeros included."""
    report = reports.fees_report(deps, who, org_id, every=every, since=since, until=until)
    return _answer(deps, org_id, report, format)


@router.get("/{org_id}/reports/forecast", responses=FILES)
def forecast(org_id: OrgId, who: PrincipalDep, deps: DepsDep,
             format: Format = "json") -> Any:
    """Next month's fees per currency with the method, its back-test and interval."""
    report = reports.fee_forecast(deps, who, org_id)
    if format == "json":
        return {**reports.as_dict(report), "method": METHOD}
    return _answer(deps, org_id, report, format)
