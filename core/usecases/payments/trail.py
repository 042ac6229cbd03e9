"""A payment's flow-log trail: the nodes its request, its channel's answers and its escalation leave."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.payments.model import Payment, PaymentStatus
from core.usecases.shared.flow import FlowTrail
from ports.channels import ChannelResult, ChannelStatus

# one node of a request's arrival: (node, message, detail)
Step = tuple[FlowNode, str, dict[str, Any]]


class PaymentTrail(FlowTrail):
    """Flow-log nodes of payments on the use cases' clock: recorded through the sink (outside
    their transactions), or built (`*_nodes`) for a transaction to write with its own rows."""

    def step_nodes(
        self, payment_id: str, steps: Sequence[Step], *, at: datetime | None = None
    ) -> list[FlowRecord]:
        return [
            self.node(payment_id, node, FlowOutcome.OK, message, at=at, **detail)
            for node, message, detail in steps
        ]

    def steps(self, payment_id: str, steps: Sequence[Step], *, at: datetime | None = None) -> None:
        self.emit(self.step_nodes(payment_id, steps, at=at))

    def result_nodes(
        self, payment: Payment, result: ChannelResult, via: str = "submit", *, at: datetime | None = None
    ) -> list[FlowRecord]:
        """The channel's answer, and the ledger posting and final state it led to."""
        node = FlowNode.CHANNEL_ANSWER if via == "submit" else FlowNode.QUERY_ANSWER
        ok = result.status in (ChannelStatus.SUCCEEDED, ChannelStatus.PROCESSING, ChannelStatus.RETURNED)
        at = at or self.clock()
        nodes = [
            self.node(
                payment.id,
                node,
                FlowOutcome.OK
                if ok
                else FlowOutcome.FAILED
                if result.status is ChannelStatus.FAILED
                else FlowOutcome.PENDING,
                f"{result.status.value}" + (f": {result.code}" if result.code else ""),
                at=at,
                channel_ref=result.channel_ref,
                channel_message=result.message,
            )
        ]
        if payment.status is PaymentStatus.SUCCEEDED and result.postings:
            nodes.append(
                self.node(
                    payment.id, FlowNode.LEDGER_POSTED, message=f"{len(result.postings)} flows posted", at=at
                )
            )
        if payment.is_final:
            nodes.append(
                self.node(
                    payment.id,
                    FlowNode.FINAL_STATE,
                    FlowOutcome.OK if payment.status is PaymentStatus.SUCCEEDED else FlowOutcome.FAILED,
                    payment.status.value,
                    at=at,
                    failure_code=payment.failure_code,
                )
            )
        return nodes

    def result(
        self, payment: Payment, result: ChannelResult, via: str = "submit", *, at: datetime | None = None
    ) -> None:
        self.emit(self.result_nodes(payment, result, via, at=at))
