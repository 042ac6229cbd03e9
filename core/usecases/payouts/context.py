"""What every payout use case works with: storage, the payment service, the flow log, the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import NotFound
from core.flowlog import FlowNode, FlowOutcome
from core.payouts.model import Payout
from core.usecases.payments.service import PaymentService
from core.usecases.shared.flow import FlowTrail
from ports.storage import FlowLogSink, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PayoutContext:
    """`uow` opens the transactions that change payouts; `reads` those that only read them;
    `to_pay` wakes the payout worker, which pays the payouts approved (off the approving request)."""

    uow: UnitOfWorkFactory
    reads: UnitOfWorkFactory
    payments: PaymentService
    flow: FlowLogSink
    clock: Callable[[], datetime]
    to_pay: asyncio.Event = field(default_factory=asyncio.Event)

    def record(
        self,
        subject: str,
        node: FlowNode,
        message: str,
        outcome: FlowOutcome = FlowOutcome.OK,
        actor: str | None = None,
        **detail: Any,
    ) -> None:
        """A flow-log node of the payout `subject` (written outside its transaction)."""
        FlowTrail(self.flow, self.clock).record(subject, node, outcome, message, actor=actor, **detail)


def found(payout: Payout | None, payout_id: str) -> Payout:
    """The payout, or the 404 of a payout that does not exist."""
    if payout is None:
        raise NotFound(f"payout {payout_id} does not exist", code="PAYOUT_NOT_FOUND")
    return payout
