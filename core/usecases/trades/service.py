"""The trade use cases: create a trade with its terms (idempotent per out_trade_no), read it,
and pay it once (seed 003 `pay_trans`) through the payment service with the merged terms (the
trade then follows its payment: `listener.py`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.errors import Conflict, IdempotencyConflict, NotFound
from core.general_pay.terms import named_accounts
from core.general_pay.trade import (
    TRADE_STATES,
    Trade,
    TradePay,
    TradeStatus,
    TradeTerms,
    payment_out_request_no,
    payment_terms,
    status_of_payment,
)
from core.ids import new_id, utcnow
from core.payments.model import Payment
from core.payments.routing import CALLERS
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payments.service import PaymentService
from ports.storage import ConcurrentUpdate, DuplicateRequest
from ports.trades import TradeStore


@dataclass(frozen=True, slots=True)
class PaidTrade:
    """A pay request's answer: the trade after it, its one payment, and whether this request made it."""

    trade: Trade
    payment: Payment
    created: bool


class TradeService:
    def __init__(
        self, store: TradeStore, payments: PaymentService, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.payments = payments
        self.clock = clock

    async def create(
        self, app_id: str, out_trade_no: str, request_hash: str, terms: TradeTerms
    ) -> tuple[Trade, bool]:
        """(trade, created): a repeat of the same request answers the first trade."""
        terms.check()
        existing = await self.store.by_out_trade_no(app_id, out_trade_no)
        if existing is not None:
            return _same_request(existing, request_hash), False
        now = self.clock()
        trade = Trade(new_id("trd"), app_id, out_trade_no, request_hash, terms, TradeStatus.CREATED, now, now)
        try:
            await self.store.add(trade)
        except DuplicateRequest:  # a concurrent request with the same out_trade_no won
            winner = await self.store.by_out_trade_no(app_id, out_trade_no)
            assert winner is not None, "a duplicate insert implies a stored trade"
            return _same_request(winner, request_hash), False
        return trade, True

    async def get(self, trade_id: str, app_id: str) -> Trade:
        """The trade of `app_id` (another app's is a 404), up to date with its payment."""
        trade = await self.store.get(trade_id)
        if trade is None or trade.app_id != app_id:
            raise NotFound(f"trade {trade_id} does not exist", code="TRADE_NOT_FOUND")
        if trade.status in (TradeStatus.CREATED, TradeStatus.PAYING):
            # A ledger payment commits in a transaction that cannot carry the trade, which moves
            # right after (`_follow`): a crash in between leaves the trade behind its payment.
            # Any read catches it up, by the same conditional update.
            payment = await self.payments.by_request_no(app_id, payment_out_request_no(trade.id))
            if payment is not None:
                return await self._follow(trade, payment)
        return trade

    async def pay(self, app_id: str, trade_id: str, pay: TradePay, request_hash: str) -> PaidTrade:
        """Pay the trade with `pay`'s overrides. Its one payment is keyed by the trade, so two
        requests can never make two payments: a repeat of the same request answers the first
        result, another request is a 409 `TRADE_ALREADY_PAID`."""
        trade = await self.get(trade_id, app_id)
        terms = payment_terms(trade.terms, pay)
        cmd = PaymentCommand(
            app_id=app_id,
            out_request_no=payment_out_request_no(trade.id),
            request_hash=request_hash,
            pay_method=trade.terms.pay_method,
            amount=trade.terms.cash_amount,
            payer_account=trade.terms.buyer_account_id,
            payee_account=trade.terms.seller_account_id,
            channel=pay.channel or trade.terms.channel,
            memo=trade.terms.memo,
            details={**terms, "trade_id": trade.id},
            ledger_accounts=tuple(
                named_accounts(trade.terms.buyer_account_id, trade.terms.seller_account_id, terms)
            ),
            submitter=CALLERS,
        )
        try:
            payment, created = await self.payments.submit(cmd)
        except IdempotencyConflict:
            raise Conflict(
                f"trade {trade.id} is already paid (or being paid) by another request",
                field="trade_id",
                code="TRADE_ALREADY_PAID",
            ) from None
        return PaidTrade(await self._follow(trade, payment), payment, created)

    async def _follow(self, trade: Trade, payment: Payment) -> Trade:
        """The trade moves with its payment, by a conditional update. A payment on a channel
        that answers later has moved it already (`TradePaymentListener`, in the payment's own
        transaction), as may a concurrent request: then the stored trade is the answer. A
        ledger payment, final in a transaction that cannot carry the trade, is followed here."""
        target = status_of_payment(payment.status.value)
        if not TRADE_STATES.can(trade.status, target):
            return trade
        moved = trade.moved(target, self.clock(), payment.id)
        try:
            await self.store.record_payment(
                trade.id, payment.id, target, at=moved.updated_at, expected=trade.status
            )
        except ConcurrentUpdate:
            return await self.get(trade.id, trade.app_id)
        return moved


def _same_request(existing: Trade, request_hash: str) -> Trade:
    if existing.request_hash != request_hash:
        raise IdempotencyConflict(
            f"out_trade_no {existing.out_trade_no!r} was already used with a different body",
            field="out_trade_no",
        )
    return existing
