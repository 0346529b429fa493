"""The states a payment, deposit or withdrawal passed through, as JSON shows them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Protocol


class Step(Protocol):
    """A step record (payments.PaymentStep, rails.DepositStep, rails.WithdrawalStep)."""

    @property
    def status(self) -> enum.StrEnum: ...
    @property
    def at_ms(self) -> int: ...


def steps_json(steps: Iterable[Step]) -> list[dict[str, Any]]:
    """[{"status", "at_ms"}], the shape the API, webhooks and receipts have always had."""
    return [{"status": s.status.value, "at_ms": s.at_ms} for s in steps]
