"""The withholding agreement (代扣签约) and the plan: sign, query the signing, unsign (解除代扣),
refuse an async unsign (异步解约确认), cancel the plan (取消代扣计划)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.events import EventType
from core.flowlog import FlowNode, FlowOutcome
from core.lease.errors import LeaseStateConflict
from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.rules import check_agreement_signing, check_plan_cancel, check_unsign
from core.lease.status import AgreementStatus, AsyncUnsignOperation, CancelReason, PlanStatus
from core.money import Money
from core.usecases.lease.book import LeaseBook, agreement_status, on_move
from core.usecases.lease.channel import LeaseChannelCalls
from core.usecases.lease.claims import ClaimedMoves, cancel_plan_move, unsign_move
from core.usecases.lease.signing import ContractSigning
from core.usecases.lease.views import withholding_answer_view
from ports.channels import ChannelStatus, SigningRequest
from ports.lease import WITHHOLDING_SIGNING

_UNSIGNED = on_move(EventType.LEASE_AGREEMENT_UNSIGNED, agreement_status, AgreementStatus.UNSIGNED)


class WithholdingService:
    """The agreement rent is withheld under, and the plan of what is withheld. A signed
    agreement leads to 落签 of a signed contract at once."""

    def __init__(self, book: LeaseBook, calls: LeaseChannelCalls, contract: ContractSigning) -> None:
        self.book = book
        self.calls = calls
        self.contract = contract
        self.moves = ClaimedMoves(book, calls)

    async def start_signing(self, order_id: str, app_id: str, return_url: str | None = None) -> LeaseOrder:
        """A new withholding signing: the URL (alipay.user.agreement.page.sign) the user
        confirms. A signing already under way is asked about first, so an agreement the user
        signed is never signed twice."""
        order = await self.book.get(order_id, app_id)
        if order.agreement.status is AgreementStatus.SIGNING:
            order, _ = await self.query(order_id, app_id)
        check_agreement_signing(order)
        attempt, external_no = order.next_agreement_attempt()
        request = SigningRequest(
            order.id,
            app_id,
            WITHHOLDING_SIGNING,
            {"external_agreement_no": external_no, "buyer_id": order.buyer_id, "return_url": return_url},
        )
        start = self.calls.signing(order).start_signing(request)
        result = await self.calls.sign(order, "withholding signing", start)
        url = result.sign_url or ""
        return await self.book.change(
            order_id,
            lambda o, at: o if o.agreement.attempt >= attempt else o.agreement_signing(attempt, url, at),
        )

    async def query(self, order_id: str, app_id: str) -> tuple[LeaseOrder, dict[str, Any]]:
        """查询代扣签约: asks the channel (alipay.user.agreement.query); a signature the
        notification has not brought yet is applied here."""
        order = await self.book.get(order_id, app_id)
        a = order.agreement
        if a.external_agreement_no is None:
            raise LeaseStateConflict("no withholding signing was started for this order", field="agreement")
        request = SigningRequest(
            order.id,
            app_id,
            WITHHOLDING_SIGNING,
            {
                "external_agreement_no": a.external_agreement_no,
                "agreement_no": a.agreement_no,
                "buyer_id": order.buyer_id,
            },
        )
        result = await self.calls.query_signing(order, self.calls.signing(order).query_signing(request))
        if (
            result.status is ChannelStatus.SUCCEEDED
            and result.agreement_ref
            and a.status is AgreementStatus.SIGNING
        ):
            order = await self.signed(
                order.id, a.external_agreement_no, result.agreement_ref, order.buyer_id, "query"
            )
        return order, withholding_answer_view(result)

    async def signed(
        self, order_id: str, external_no: str, agreement_no: str, user_id: str | None, via: str
    ) -> LeaseOrder:
        """The user signed (the channel's notification, or a query): 落签 follows if it can.
        A confirmation of an older signing of this order (a sign URL a newer signing replaced)
        never becomes the order's agreement: it is unsigned at the channel at once."""
        current = await self.book.get(order_id)
        if not current.is_live_signing(external_no):
            return await self._unsign_stale(current, external_no, agreement_no)
        order = await self.book.change(
            order_id,
            lambda o, at: o.agreement_signed(external_no, agreement_no, user_id, at),
            on_move(EventType.LEASE_AGREEMENT_SIGNED, agreement_status, AgreementStatus.SIGNED),
        )
        self.book.trail.record(
            order_id,
            FlowNode.NOTIFIED,
            message=f"withholding agreement signed ({via})",
            agreement_no=agreement_no,
        )
        return await self.contract.finalise_if_ready(order)

    async def _unsign_stale(self, order: LeaseOrder, external_no: str, agreement_no: str) -> LeaseOrder:
        """One live withholding agreement per order: an agreement signed on a replaced sign URL
        is ended at the channel (an unknown answer is raised, so the channel's notification is
        repeated and this is tried again)."""
        self.book.trail.record(
            order.id,
            FlowNode.NOTIFIED,
            message=f"withholding agreement {agreement_no} signed on a replaced signing {external_no}: "
            "unsigning it",
            outcome=FlowOutcome.FAILED,
            agreement_no=agreement_no,
        )
        if not agreement_no:
            return order
        stale = replace(
            order,
            agreement=replace(
                order.agreement,
                status=AgreementStatus.SIGNED,
                agreement_no=agreement_no,
                external_agreement_no=external_no,
            ),
        )
        reason = "a newer withholding signing replaced this one"
        await self.calls.operate(
            stale, "unsign a replaced agreement", self.calls.port(stale).unsign_agreement(stale, reason)
        )
        return order

    async def unsigned_at_channel(self, order: LeaseOrder, data: Mapping[str, Any]) -> None:
        """The user (or the channel) ended the agreement: collection stops."""
        await self.book.change(
            order.id,
            lambda o, at: o.agreement_unsigned(data.get("agreement_no"), "unsigned at the channel", at),
            _UNSIGNED,
        )
        self.book.trail.record(
            order.id, FlowNode.NOTIFIED, message="withholding agreement unsigned (notification)"
        )

    async def unsign(self, order_id: str, app_id: str, reason: str) -> LeaseOrder:
        """解除代扣 (alipay.user.agreement.unsign), claimed `unsigning` first so no deduction
        starts meanwhile; repeating it is harmless, and repeating it while unsigning asks the
        channel again."""
        order = await self.book.get(order_id, app_id)
        if order.agreement.status is AgreementStatus.UNSIGNED:
            return order
        if order.agreement.status is AgreementStatus.UNSIGNING:
            return await self.moves.settle(order, unsign_move(order.agreement.unsign_reason or reason))
        check_unsign(order)
        return await self.moves.run(
            order_id, lambda o, at: o.agreement_unsigning(reason, at), unsign_move(reason)
        )

    async def cancel_plan(self, order_id: str, app_id: str, reason: CancelReason, note: str) -> LeaseOrder:
        """取消代扣计划 with a reason: the unpaid periods are never collected. Claimed
        `cancelling` first so no deduction starts meanwhile. Repeating it with the same reason
        is harmless; a plan cancelled for `other` may be cancelled again for lease-to-sale or a
        successful return (so the order can close)."""
        order = await self.book.get(order_id, app_id)
        plan = order.plan
        if plan.status is PlanStatus.CANCELLED and plan.cancel_reason is reason:
            return order
        if plan.status is PlanStatus.CANCELLING and plan.cancel_reason is not None:
            return await self.moves.settle(
                order, cancel_plan_move(plan.cancel_reason, plan.cancel_note or "")
            )
        check_plan_cancel(order, reason)
        return await self.moves.run(
            order_id, lambda o, at: o.plan_cancelling(reason, note, at), cancel_plan_move(reason, note)
        )

    async def refuse_async_unsign(
        self,
        order_id: str,
        app_id: str,
        operation: AsyncUnsignOperation,
        service_user: str,
        user_debt: Money,
        reason: str,
    ) -> LeaseOrder:
        """异步解约确认: refuse the user's unsign request (operation REFUSE, the serving user,
        the user's outstanding debt, the reason); the agreement stays in force."""
        order = await self.book.get(order_id, app_id)
        check_unsign(order)
        refusal = UnsignRefusal(operation, service_user, user_debt, reason, self.book.clock())
        confirm = self.calls.port(order).confirm_async_unsign(order, refusal)
        await self.calls.operate(order, "async unsign confirmation", confirm)
        return await self.book.change(order_id, lambda o, at: o.unsign_refused(refusal))
