"""The withholding agreement (代扣签约) and the plan: sign, query the signing, unsign (解除代扣),
refuse an async unsign (异步解约确认), cancel the plan (取消代扣计划)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.events import EventType
from core.flowlog import FlowNode
from core.lease.errors import LeaseStateConflict
from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.rules import check_agreement_signing, check_plan_cancel, check_unsign
from core.lease.status import AgreementStatus, AsyncUnsignOperation, CancelReason, PlanStatus
from core.money import Money
from core.usecases.lease.book import LeaseBook, agreement_status, on_move
from core.usecases.lease.channel import LeaseChannelCalls
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
        """The user signed (the channel's notification, or a query): 落签 follows if it can."""
        order = await self.book.change(
            order_id,
            lambda o, at: o.agreement_signed(external_no, agreement_no, user_id, at),
            on_move(EventType.LEASE_AGREEMENT_SIGNED, agreement_status, AgreementStatus.SIGNED),
        )
        self.book.record(
            order_id, FlowNode.NOTIFIED, f"withholding agreement signed ({via})", agreement_no=agreement_no
        )
        return await self.contract.finalise_if_ready(order)

    async def unsigned_at_channel(self, order: LeaseOrder, data: Mapping[str, Any]) -> None:
        """The user (or the channel) ended the agreement: collection stops."""
        await self.book.change(
            order.id,
            lambda o, at: o.agreement_unsigned(data.get("agreement_no"), "unsigned at the channel", at),
            _UNSIGNED,
        )
        self.book.record(order.id, FlowNode.NOTIFIED, "withholding agreement unsigned (notification)")

    async def unsign(self, order_id: str, app_id: str, reason: str) -> LeaseOrder:
        """解除代扣 (alipay.user.agreement.unsign); repeating it is harmless."""
        order = await self.book.get(order_id, app_id)
        if order.agreement.status is AgreementStatus.UNSIGNED:
            return order
        check_unsign(order)
        await self.calls.operate(order, "unsign", self.calls.port(order).unsign_agreement(order, reason))
        return await self.book.change(
            order_id,
            lambda o, at: o.agreement_unsigned(o.agreement.agreement_no, reason, at),
            _UNSIGNED,
        )

    async def cancel_plan(self, order_id: str, app_id: str, reason: CancelReason, note: str) -> LeaseOrder:
        """取消代扣计划 with a reason: the unpaid periods are never collected. Repeating it with
        the same reason is harmless."""
        order = await self.book.get(order_id, app_id)
        if order.plan.status is PlanStatus.CANCELLED and order.plan.cancel_reason is reason:
            return order
        check_plan_cancel(order)
        await self.calls.operate(
            order, "cancel plan", self.calls.port(order).cancel_plan(order, reason, note)
        )
        return await self.book.change(
            order_id,
            lambda o, at: o if o.plan.status is PlanStatus.CANCELLED else o.plan_cancelled(reason, note, at),
            on_move(EventType.LEASE_PLAN_CANCELLED, lambda o: o.plan.status),
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
