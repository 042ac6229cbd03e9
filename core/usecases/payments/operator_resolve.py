"""An operator's way out of an escalated unknown: two operators decide a payment's outcome.

Only a payment whose query schedule ran out (escalated) and whose outcome is still not final
may be resolved (`admissible`, in the proposing request). The channel calls run in the
approvals worker, never in an operator's request: before the proposal becomes confirmable
(`check_proposal`) and again before the confirmed decision runs (`execute`), the channel
is asked once more: a final answer there wins (it is applied, and the decision refused with
CHANNEL_HAS_ANSWERED). A `failed` decision on a channel that can cancel (Ant Lease's
`alipay.trade.cancel`) first closes the order at the channel: closed → failed; paid → the
payment succeeded (the decision is refused); no definite answer → refused, try later. The move
itself is the normal result application, so the payout, bill attempt or rent period that owns
the payment follows through its listener.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from core.approvals.model import Approval
from core.errors import Conflict, InvalidArgument, NotFound
from core.flowlog import FlowNode, FlowOutcome
from core.payments.model import Payment
from core.usecases.payments.channels import ChannelAccess, channel_request
from core.usecases.payments.results import PaymentResults
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail
from core.usecases.payments.views import payment_view
from core.usecases.shared.channel_calls import call_channel
from ports.approvals import EscalatedPayments
from ports.channels import ChannelResult, ChannelStatus

FINAL_ANSWERS = (ChannelStatus.SUCCEEDED, ChannelStatus.FAILED, ChannelStatus.RETURNED)
RESOLVED_CODE = "OPERATOR_RESOLVED"


class Decision(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def decision_of(raw: object) -> Decision:
    try:
        return Decision(str(raw))
    except ValueError:
        raise InvalidArgument("decision must be succeeded or failed", field="decision") from None


class OperatorResolution:
    """`admissible` (the proposing request), `check_proposal` (the worker's fresh query and the
    proposal's flow node), `execute` (the worker's run of the confirmed decision)."""

    def __init__(
        self,
        storage: PaymentStorage,
        access: ChannelAccess,
        trail: PaymentTrail,
        results: PaymentResults,
        escalations: EscalatedPayments,
    ) -> None:
        self.storage = storage
        self.access = access
        self.trail = trail
        self.results = results
        self.escalations = escalations

    async def admissible(self, payment_id: str) -> Payment:
        """The payment, if it exists, is escalated and not final (no channel call)."""
        async with self.storage.reads() as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist")
        if payment.is_final or not await self.escalations.escalated(payment_id):
            raise Conflict(
                f"payment {payment_id} is {payment.status.value} and "
                + ("final" if payment.is_final else "not escalated: its channel is still being queried"),
                code="NOT_ESCALATED",
            )
        return payment

    async def check(self, payment_id: str) -> Payment:
        """The payment, escalated and still not final after a fresh query of its channel;
        a final answer of the channel is applied and refuses the resolution."""
        payment = await self.admissible(payment_id)
        answer = await self.access.query(payment)
        if answer.status in FINAL_ANSWERS:
            await self._answered(payment, answer, via="query")
        self.trail.result(payment, answer, via="query")
        return payment

    async def check_proposal(self, approval: Approval) -> None:
        """A `checking` proposal, still to decide after a fresh query (else refused)."""
        self.proposed(await self.check(approval.subject_id), approval)

    def proposed(self, payment: Payment, approval: Approval) -> None:
        """The proposal's flow node, with the proposing operator."""
        self.trail.record(
            payment.id,
            FlowNode.OPERATOR_ACTION,
            FlowOutcome.PENDING,
            f"{approval.proposed_by} proposes to resolve as {approval.payload['decision']}: "
            "a second operator must confirm",
            actor=approval.proposed_by,
            approval_id=approval.id,
            proposed_by=approval.proposed_by,
            **_evidence(approval),
        )

    async def execute(self, approval: Approval, confirmed_by: str) -> dict[str, Any]:
        """The confirmed decision, once: fresh query, cancel where the channel can, then the move."""
        payment = await self.check(approval.subject_id)
        decision = decision_of(approval.payload.get("decision"))
        result = ChannelResult(
            ChannelStatus.SUCCEEDED if decision is Decision.SUCCEEDED else ChannelStatus.FAILED,
            code=RESOLVED_CODE,
            message=f"resolved by {approval.proposed_by} and {confirmed_by}",
        )
        if decision is Decision.FAILED:
            result = await self._cancelled(payment, result)
        moved = await self.results.apply_result(payment.id, result, via="operator")
        self.trail.record(
            payment.id,
            FlowNode.OPERATOR_ACTION,
            FlowOutcome.OK,
            f"{confirmed_by} confirms {approval.proposed_by}'s decision: {decision.value}",
            actor=confirmed_by,
            approval_id=approval.id,
            proposed_by=approval.proposed_by,
            confirmed_by=confirmed_by,
            **_evidence(approval),
        )
        return {"payment": payment_view(moved)}

    async def _cancelled(self, payment: Payment, failed: ChannelResult) -> ChannelResult:
        """Close the order at a channel that can cancel before failing it: FAILED goes on,
        SUCCEEDED is applied (the money was taken) and refuses, no answer refuses."""
        channel = self.access.channels.get(payment.channel)
        if channel is None or channel.cancel is None:
            return failed
        answer = await call_channel(
            channel.cancel.cancel(channel_request(payment), payment.channel_ref),
            timeout=self.access.timeout,
            unknown=lambda code, message: ChannelResult(ChannelStatus.UNKNOWN, code=code, message=message),
            what=f"channel {channel.code} cancel",
            context={"payment_id": payment.id},
        )
        self.trail.result(payment, answer, via="cancel")
        if answer.status is ChannelStatus.FAILED:
            return ChannelResult(
                ChannelStatus.FAILED,
                channel_ref=answer.channel_ref,
                code=failed.code,
                message=f"{failed.message}; order cancelled at {channel.code}",
                exchanges=answer.exchanges,
            )
        if answer.status in FINAL_ANSWERS:
            await self._answered(payment, answer, via="cancel")
        raise Conflict(
            f"{channel.code} could not cancel the order ({answer.code or answer.status.value}): "
            "nothing was decided; try again later",
            code="CANCEL_UNKNOWN",
        )

    async def _answered(self, payment: Payment, answer: ChannelResult, *, via: str) -> None:
        moved = await self.results.apply_result(payment.id, answer, via=via)
        raise Conflict(
            f"the channel has answered {answer.status.value}"
            + (f" ({answer.code})" if answer.code else "")
            + f": the payment is now {moved.status.value}; no operator decision was applied",
            code="CHANNEL_HAS_ANSWERED",
        )


def _evidence(approval: Approval) -> dict[str, Any]:
    return {
        "decision": approval.payload.get("decision"),
        "evidence": approval.payload.get("evidence"),
        "note": approval.note,
    }
