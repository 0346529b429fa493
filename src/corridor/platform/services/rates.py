"""The rate source port (requirement F2): mid rates between the platform's currencies.
Owned by the quote use cases; adapters (a static development table, a market feed) implement
it and the composition root wires one as `Deps.rates`, with the commercial terms
(`domain.fx.Terms`) as `Deps.fx_terms`."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from corridor.platform.domain import fx
from corridor.platform.domain.errors import Err, PlatformError
from corridor.platform.services.ports import Deps


class RateSource(Protocol):
    name: str  # recorded on every quote (`rate_source`)

    def mid(self, sell_code: str, buy_code: str) -> Decimal:
        """Units of `buy_code` per unit of `sell_code`, mid market; raises
        PlatformError(UNAVAILABLE, RATE_UNAVAILABLE) when it has none."""
        ...


def rate_unavailable(sell_code: str, buy_code: str) -> PlatformError:
    return Err.RATE_UNAVAILABLE.error(
        f"no rate for {sell_code}/{buy_code} right now")


def source(deps: Deps) -> RateSource:
    return deps.rates


def terms(deps: Deps) -> fx.Terms:
    return deps.fx_terms


def mid(deps: Deps, sell_code: str, buy_code: str) -> Decimal:
    return Decimal(1) if sell_code == buy_code else source(deps).mid(sell_code, buy_code)
