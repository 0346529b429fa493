"""The rate source port (requirement F2): mid rates between the platform's currencies.
Owned by the quote use cases; adapters (a static development table, a market feed) implement
it and the composition root wires one as `deps.extras["rates"]`, with the commercial terms
(`domain.fx.Terms`) as `deps.extras["fx_terms"]`."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from corridor.platform.domain import fx
from corridor.platform.domain.errors import Kind, PlatformError
from corridor.platform.services.ports import Deps


class RateSource(Protocol):
    name: str  # recorded on every quote (`rate_source`)

    def mid(self, sell_code: str, buy_code: str) -> Decimal:
        """Units of `buy_code` per unit of `sell_code`, mid market; raises
        PlatformError(UNAVAILABLE, RATE_UNAVAILABLE) when it has none."""
        ...


def rate_unavailable(sell_code: str, buy_code: str) -> PlatformError:
    return PlatformError(Kind.UNAVAILABLE, "RATE_UNAVAILABLE",
                         f"no rate for {sell_code}/{buy_code} right now")


def source(deps: Deps) -> RateSource:
    rates = deps.extras.get("rates")
    assert rates is not None, "the composition root wires a rate source"
    return rates  # type: ignore[no-any-return]


def terms(deps: Deps) -> fx.Terms:
    t = deps.extras.get("fx_terms")
    return t if isinstance(t, fx.Terms) else fx.Terms()


def mid(deps: Deps, sell_code: str, buy_code: str) -> Decimal:
    return Decimal(1) if sell_code == buy_code else source(deps).mid(sell_code, buy_code)
