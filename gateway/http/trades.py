"""Trade routes (seed 003): create a trade with its terms, read it, pay it once with overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from core.general_pay.model import (
    BuyerFee,
    FeeType,
    MarketingSolution,
    MerchantLevel,
    ProfitShare,
    SettlementType,
    UpperMerchant,
)
from core.general_pay.trade import FeePayer, ParallelType, PaySolution, TradeFlags, TradePay, TradeTerms
from core.money import Money, check_currency
from core.payments.model import request_fingerprint
from core.usecases.trades.views import paid_trade_view, trade_view
from gateway.http.errors import body_of
from gateway.http.params import services
from gateway.http.request_body import parse_body
from gateway.http.schemas.answers import PaidTradeAnswer, TradeAnswer
from gateway.http.schemas.trades import PaySolutionBody, TradeBody, TradePayBody
from gateway.keys import app_id_of

if TYPE_CHECKING:
    from gateway.http.routes import Route

FEE_TYPES = {"deducted": FeeType.DEDUCTED, "collect_later": FeeType.COLLECT_LATER}


def _solution(body: PaySolutionBody | None, currency: str) -> PaySolution | None:
    if body is None:
        return None
    field = "pay_solution.upper_merchants"
    merchants = tuple(
        UpperMerchant(
            m.account,
            MerchantLevel(m.level),
            Money.parse(m.fee_amount, currency, field=f"{field}[{i}].fee_amount", allow_zero=True),
            Money.parse(m.fee_plus_amount, currency, field=f"{field}[{i}].fee_plus_amount", allow_zero=True),
        )
        for i, m in enumerate(body.upper_merchants)
    )
    return PaySolution(merchants, tuple(body.fee_solution))


def trade_terms(body: TradeBody) -> TradeTerms:
    currency = check_currency(body.currency)
    f = body.flags
    return TradeTerms(
        buyer_account_id=body.payer_account,
        seller_account_id=body.payee_account,
        cash_amount=Money.parse(body.amount, currency),
        pay_method=body.pay_method,
        settlement_type=SettlementType(body.settlement),
        channel=body.channel,
        fee_amount=None
        if body.fee is None
        else Money.parse(body.fee.amount, currency, field="fee.amount", allow_zero=True),
        fee_account_id=None if body.fee is None else body.fee.account,
        payment_mode=body.payment_mode,
        parallel_type=ParallelType(body.parallel_type),
        pay_solution=_solution(body.pay_solution, currency),
        flags=TradeFlags(
            need_share_profit=f.need_share_profit,
            is_profit=f.is_profit,
            recv_confirm=f.recv_confirm,
            refund_fee=f.refund_fee,
            fee_payer=FeePayer(f.fee_payer),
            client_source=f.client_source,
            special_code=f.special_code,
            recvable_id=f.recvable_id,
            credit_recv_id=f.credit_recv_id,
        ),
        memo=body.memo,
    )


def trade_pay(body: TradePayBody, currency: str) -> TradePay:
    def money(raw: str, field: str) -> Money:
        return Money.parse(raw, currency, field=field, allow_zero=True)

    fee = body.fee
    return TradePay(
        channel=body.channel,
        settlement_type=None if body.settlement is None else SettlementType(body.settlement),
        fee_amount=None if fee is None or fee.amount is None else money(fee.amount, "fee.amount"),
        fee_account_id=None if fee is None else fee.account,
        fee_type=None if fee is None or fee.type is None else FEE_TYPES[fee.type],
        fee_settlement_type=None if fee is None or fee.settlement is None else SettlementType(fee.settlement),
        pay_mode=None if fee is None else fee.pay_mode,
        buyer_fee=None
        if body.buyer_fee is None
        else BuyerFee(money(body.buyer_fee.amount, "buyer_fee.amount"), body.buyer_fee.account),
        profit_shares=tuple(
            ProfitShare(s.account, money(s.amount, f"profit_shares[{i}].amount"))
            for i, s in enumerate(body.profit_shares)
        ),
        marketing=None
        if body.marketing is None
        else MarketingSolution(body.marketing.solution_id, money(body.marketing.amount, "marketing.amount")),
    )


async def create_trade(request: web.Request) -> web.Response:
    body = await parse_body(request, TradeBody)
    terms = trade_terms(body)
    trade, created = (
        await services(request)
        .trades()
        .create(
            app_id_of(request), body.out_trade_no, request_fingerprint(body.model_dump(mode="json")), terms
        )
    )
    return body_of(trade_view(trade), 201 if created else 200)


async def get_trade(request: web.Request) -> web.Response:
    trade = await services(request).trades().get(request.match_info["id"], app_id_of(request))
    return body_of(trade_view(trade))


async def pay_trade(request: web.Request) -> web.Response:
    body = await parse_body(request, TradePayBody, empty_is_object=True)
    trades = services(request).trades()
    app_id = app_id_of(request)
    trade = await trades.get(request.match_info["id"], app_id)
    pay = trade_pay(body, trade.terms.cash_amount.currency)
    paid = await trades.pay(app_id, trade.id, pay, request_fingerprint(body.model_dump(mode="json")))
    return body_of(paid_trade_view(paid), 201 if paid.created else 200)


def trade_routes() -> tuple[Route, ...]:
    """The trade rows of the route table (Route is imported when the table is built)."""
    from gateway.http.routes import Route

    return (
        Route(
            "POST",
            "/v1/trades",
            create_trade,
            "Create a trade with its terms, to be paid later (idempotent on out_trade_no)",
            TradeBody,
            "app",
            ok=(201, 200),
            response=TradeAnswer,
        ),
        Route(
            "GET",
            "/v1/trades/{id}",
            get_trade,
            "A trade with its terms, flags and status",
            None,
            "app",
            response=TradeAnswer,
        ),
        Route(
            "POST",
            "/v1/trades/{id}/pay",
            pay_trade,
            "Pay a trade once, overriding its channel, settlement, fee amount and fee account",
            TradePayBody,
            "app",
            ok=(201, 200),
            response=PaidTradeAnswer,
        ),
    )
