"""How the payment use cases reach a channel: routing, the request it gets, calls with a deadline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import InvalidArgument
from core.payments.model import Payment, PaymentStatus
from core.payments.routing import RouteDecision, Router, RouteRequest
from core.usecases.payments.calls import query_answer, submit_answer
from core.usecases.payments.commands import PaymentCommand
from ports.channels import Channel, ChannelResult, ChannelStatus, PaymentRequest

STATUS_FROM_CHANNEL = {
    ChannelStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChannelStatus.FAILED: PaymentStatus.FAILED,
    ChannelStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChannelStatus.UNKNOWN: PaymentStatus.UNKNOWN,
    # the payment was made; its return is a fact told to the workflow (PaymentResults.returned)
    ChannelStatus.RETURNED: PaymentStatus.SUCCEEDED,
}


def channel_request(p: Payment) -> PaymentRequest:
    """What a channel is told about a payment."""
    return PaymentRequest(
        payment_id=p.id,
        app_id=p.app_id,
        pay_method=p.pay_method,
        amount=p.amount,
        payer_account=p.payer_account,
        payee_account=p.payee_account,
        business_type=p.business_type,
        memo=p.memo,
        details=p.details,
        created_at=p.created_at,
    )


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """The router and the installed channels; a call that fails or runs out of time is an
    unknown outcome, never a failure (the channel may have paid)."""

    router: Router
    channels: Mapping[str, Channel]
    timeout: float = 30.0

    def route(self, cmd: PaymentCommand) -> tuple[Channel, RouteDecision]:
        decision = self.router.select(
            RouteRequest(
                cmd.pay_method,
                cmd.amount.decimal,
                cmd.amount.currency,
                cmd.channel,
                cmd.business_type,
                cmd.submitter,
            )
        )
        channel = self.channels[decision.channel]
        if channel.payment is None:  # the router checks this at start-up
            raise InvalidArgument(f"channel {channel.code} cannot pay", code="NO_ROUTE")
        return channel, decision

    async def submit(self, channel: Channel, payment: Payment) -> ChannelResult:
        return await submit_answer(channel, channel_request(payment), timeout=self.timeout)

    async def query(self, payment: Payment) -> ChannelResult:
        channel = self.channels.get(payment.channel)
        if channel is None or channel.query is None:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code="NO_QUERY_PORT",
                message=f"channel {payment.channel} cannot be queried",
            )
        return await query_answer(
            channel, channel_request(payment), payment.channel_ref, timeout=self.timeout
        )
