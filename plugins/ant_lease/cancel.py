"""撤销 of a deduction whose outcome stays unknown: `alipay.trade.cancel` on its out_trade_no,
and what the answer means for the payment.

Alipay's answer: `retry_flag` Y asks for the cancel to be repeated (nothing is settled yet);
`action` says what it did: `close` (the trade was not paid and is closed: it can never be paid
later), `refund` (the trade had been paid and the money went back to the user), and no action
when Alipay found no trade under the out_trade_no (the request never arrived; the out_trade_no
is never sent again, since a new attempt has a new payment id).

A refunded trade is a FAILED deduction (code `TRADE_CANCEL_REFUNDED`), not a succeeded one: the
rent was not collected (the user has the money back in full), so booking the period paid would
record money the lessor never kept. Not RETURNED either: that status keeps the payment
succeeded and only tells its workflow, while here the payment never ends paid. The period's
attempt fails and the plan retries it under a new out_trade_no."""

from __future__ import annotations

from plugins.alipay_openapi.errors import outcome_code
from plugins.ant_lease.calls import LeaseCalls, failure_code
from plugins.ant_lease.client import TRADE_CANCEL
from ports.channels import ChannelResult, ChannelStatus, PaymentRequest

CLOSED_UNPAID = "TRADE_CANCEL_CLOSED"  # action close: closed before it was paid
REFUNDED = "TRADE_CANCEL_REFUNDED"  # action refund: paid, then refunded by the cancel
NO_TRADE = "TRADE_CANCEL_NO_TRADE"  # no action: Alipay holds no trade under this out_trade_no
RETRY = "TRADE_CANCEL_RETRY"  # retry_flag Y: ask again

_FAILED_ACTIONS = {"close": CLOSED_UNPAID, "refund": REFUNDED, None: NO_TRADE}


class TradeCancel(LeaseCalls):
    """The channel's CancelPort: a deduction left unknown closed at Alipay."""

    async def cancel(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        response, exchange, error = await self._call(
            TRADE_CANCEL, {"out_trade_no": request.payment_id}, request.payer_account
        )
        exchanges = (exchange,)
        if response is None:
            assert error is not None
            return ChannelResult(
                ChannelStatus.UNKNOWN, code=outcome_code(error), message=str(error), exchanges=exchanges
            )
        ref = response.get("trade_no") or channel_ref
        if not response.is_success:
            # a refused cancel (too late, a frozen trade, a system fault) settles nothing
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=ref,
                code=failure_code(response),
                message=response.sub_msg or response.msg,
                exchanges=exchanges,
            )
        action = response.get("action") or None
        if response.get("retry_flag") == "Y" or action not in _FAILED_ACTIONS:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=ref,
                code=RETRY,
                message=f"cancel answered retry_flag={response.get('retry_flag')} action={action}",
                exchanges=exchanges,
            )
        code = _FAILED_ACTIONS[action]
        return ChannelResult(
            ChannelStatus.FAILED,
            channel_ref=ref,
            code=code,
            message=f"alipay.trade.cancel: action {action or 'none (no trade)'}",
            raw={"action": action or ""},
            exchanges=exchanges,
        )
