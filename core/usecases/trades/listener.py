"""Following a trade's payment: the trade moves with it, inside the transaction that moves the
payment (a query's answer, a channel callback, an operator's resolve), by the trade's state
machine and the store's conditional update; the payment's own webhook announces the result."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from core.general_pay.trade import TRADE_STATES, Trade, TradeStatus, status_of_payment
from core.payments.model import Payment
from ports.channels import Channel
from ports.storage import UnitOfWork

log = logging.getLogger("paygate.trades")


def trade_of(payment: Payment) -> str | None:
    """The id of the trade `payment` pays (TradeService.pay puts it in the details), if any."""
    trade_id = payment.details.get("trade_id")
    return trade_id if isinstance(trade_id, str) else None


class TradePaymentListener:
    """Moves a trade with its payment on an external channel: created → paying while the channel
    works on it, → paid when it succeeds, → failed when it fails; an unknown answer leaves a
    paying trade as it is.

    A trade paid on the ledger is not followed here: the ledger's payment is final in its own
    transaction, which cannot carry the trade (`PaymentResults.settle`), and the pay request
    moves the trade right after it (`TradeService.pay`)."""

    def __init__(self, channels: Mapping[str, Channel]) -> None:
        # the installed channels, to tell the ledger's (atomic) payments from the others
        self.channels = channels

    def follows(self, payment: Payment) -> bool:
        channel = self.channels.get(payment.channel)
        return trade_of(payment) is not None and not (channel is not None and channel.atomic)

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None:
        trade_id = trade_of(payment)
        if trade_id is None or not self.follows(payment):
            return
        trade = await uow.trades.get_for_update(trade_id)
        if trade is None:
            log.error("payment of a missing trade", extra={"payment_id": payment.id, "trade_id": trade_id})
            return
        target = status_of_payment(payment.status.value)
        if trade.payment_id not in (None, payment.id) or not TRADE_STATES.can(trade.status, target):
            _note_disagreement(trade, payment, target)
            return  # already there (a repeat), or final: a final trade never moves again
        moved = trade.moved(target, payment.updated_at, payment.id)
        await uow.trades.record_payment(
            trade.id, payment.id, target, at=moved.updated_at, expected=trade.status
        )


def _note_disagreement(trade: Trade, payment: Payment, target: TradeStatus) -> None:
    """Logged: a trade with another payment, or a final trade its payment contradicts (a trade
    already where its payment says is a repeat, no news)."""
    if trade.payment_id not in (None, payment.id) or (
        TRADE_STATES.is_final(trade.status) and trade.status is not target
    ):
        log.error(
            "trade and payment disagree",
            extra={
                "trade_id": trade.id,
                "trade": trade.status,
                "payment_id": payment.id,
                "payment": payment.status,
            },
        )
