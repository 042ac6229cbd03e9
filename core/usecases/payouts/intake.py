"""A payout application (a batch of items) and the answer for each of its items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.payouts.checks import ItemProblem
from core.payouts.model import Payout
from core.usecases.payouts.views import payout_view


@dataclass(frozen=True, slots=True)
class PayoutBatch:
    """A payout application (OutwardPayRequest): the caller app is its projectAuthId."""

    app_id: str
    trace_id: str | None
    items: Sequence[object]
    source_platform: str | None = None


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """The answer for one item: accepted (with the payout, new or repeated) or rejected."""

    index: int
    serial_no: str | None
    payout: Payout | None = None
    created: bool = False
    problem: ItemProblem | None = None

    def to_json(self) -> dict[str, Any]:
        if self.problem is not None:
            field = f"items[{self.index}]" + (f".{self.problem.field}" if self.problem.field else "")
            return {
                "index": self.index,
                "serial_no": self.serial_no,
                "status": "rejected",
                "code": self.problem.code,
                "message": self.problem.message,
                "field": field,
            }
        assert self.payout is not None
        return {
            "index": self.index,
            "serial_no": self.serial_no,
            "status": "accepted",
            "created": self.created,
            "payout": payout_view(self.payout),
        }
