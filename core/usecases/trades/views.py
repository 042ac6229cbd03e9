"""How trades are shown to callers: the one place that shapes trade answers."""

from __future__ import annotations

from typing import Any

from core.general_pay.trade import Trade
from core.money import Money
from core.usecases.payments.views import payment_view
from core.usecases.trades.service import PaidTrade


def _amount(money: Money | None) -> str | None:
    return None if money is None else str(money)


def trade_view(trade: Trade) -> dict[str, Any]:
    t = trade.terms
    solution = t.pay_solution
    return {
        "id": trade.id,
        "out_trade_no": trade.out_trade_no,
        "status": trade.status.value,
        "payer_account": t.buyer_account_id,
        "payee_account": t.seller_account_id,
        "amount": str(t.cash_amount),
        "currency": t.cash_amount.currency,
        "pay_method": t.pay_method,
        "channel": t.channel,
        "settlement": t.settlement_type.value,
        "fee": None
        if t.fee_amount is None
        else {"amount": _amount(t.fee_amount), "account": t.fee_account_id or None},
        "payment_mode": t.payment_mode,
        "parallel_type": t.parallel_type.value,
        "pay_solution": None
        if solution is None
        else {
            "upper_merchants": [
                {
                    "account": m.account_id,
                    "level": int(m.level),
                    "fee_amount": str(m.fee_amount),
                    "fee_plus_amount": str(m.fee_plus_amount),
                }
                for m in solution.upper_merchants
            ],
            "fee_solution": list(solution.fee_solution),
        },
        "flags": {
            "need_share_profit": t.flags.need_share_profit,
            "is_profit": t.flags.is_profit,
            "recv_confirm": t.flags.recv_confirm,
            "refund_fee": t.flags.refund_fee,
            "fee_payer": t.flags.fee_payer.value,
            "client_source": t.flags.client_source,
            "special_code": t.flags.special_code,
            "recvable_id": t.flags.recvable_id,
            "credit_recv_id": t.flags.credit_recv_id,
        },
        "memo": t.memo,
        "payment_id": trade.payment_id,
        "created_at": trade.created_at.isoformat(),
        "updated_at": trade.updated_at.isoformat(),
    }


def paid_trade_view(paid: PaidTrade) -> dict[str, Any]:
    return {"trade": trade_view(paid.trade), "payment": payment_view(paid.payment)}
