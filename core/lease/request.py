"""The pre-order (同步前置订单) as the caller sends it, and the rules it is checked against."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidArgument
from core.money import Money, check_currency

LEASE_CURRENCY = "CNY"
MAX_PERIODS = 120
ALIPAY_USER_ID = re.compile(r"^2088[0-9]{12}$")
OUT_ORDER_NO = r"^[A-Za-z0-9_.:\-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, str_strip_whitespace=True)


class RentPeriodBody(_Strict):
    """One period of the rent plan: when it is due and what it costs."""

    due_date: str = Field(description="YYYY-MM-DD (Beijing calendar day from which it is collected)")
    amount: str = Field(description='decimal string, e.g. "199.00"')


class LeaseOrderBody(_Strict):
    """同步前置订单: the order number, the number of lease periods, the total, the rent plan."""

    out_order_no: str = Field(pattern=OUT_ORDER_NO, description="the caller's order number (idempotency key)")
    buyer_id: str = Field(description="the lessee's Alipay user id (2088 + 12 digits)")
    title: str = Field(min_length=1, max_length=64, description="what is leased, shown to the user")
    total_amount: str = Field(description="decimal string: the sum of the periods' amounts")
    currency: str = LEASE_CURRENCY
    period_count: int = Field(ge=1, le=MAX_PERIODS, description="租赁期数")
    periods: list[RentPeriodBody] = Field(min_length=1, max_length=MAX_PERIODS)


@dataclass(frozen=True, slots=True)
class LeaseOrderRequest:
    """A checked pre-order."""

    out_order_no: str
    buyer_id: str
    title: str
    total: Money
    periods: tuple[tuple[date, Money], ...]

    def canonical(self) -> dict[str, Any]:
        return {
            "out_order_no": self.out_order_no,
            "buyer_id": self.buyer_id,
            "title": self.title,
            "total_amount": str(self.total),
            "currency": self.total.currency,
            "periods": [{"due_date": d.isoformat(), "amount": str(a)} for d, a in self.periods],
        }


def check_order(body: LeaseOrderBody) -> LeaseOrderRequest:
    """The rules of a pre-order beyond its shape: CNY, a real Alipay user, one amount per
    period, strictly later due dates, and periods summing to the total."""
    currency = check_currency(body.currency)
    if currency != LEASE_CURRENCY:
        raise InvalidArgument(
            f"lease orders are collected in {LEASE_CURRENCY} only",
            field="currency",
            code="UNSUPPORTED_CURRENCY",
        )
    if not ALIPAY_USER_ID.match(body.buyer_id):
        raise InvalidArgument("buyer_id must be an Alipay user id: 2088 and 12 digits", field="buyer_id")
    total = Money.parse(body.total_amount, currency, field="total_amount")
    if body.period_count != len(body.periods):
        raise InvalidArgument(
            f"period_count is {body.period_count} but the rent plan has {len(body.periods)} periods",
            field="period_count",
            code="PERIOD_COUNT_MISMATCH",
        )
    periods: list[tuple[date, Money]] = []
    for index, period in enumerate(body.periods):
        where = f"periods[{index}]"
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", period.due_date):
                raise ValueError
            due = date.fromisoformat(period.due_date)
        except ValueError:
            raise InvalidArgument(
                f"{where}.due_date must be a date YYYY-MM-DD", field=f"{where}.due_date"
            ) from None
        if periods and due <= periods[-1][0]:
            raise InvalidArgument(
                f"{where}.due_date must be later than the period before it",
                field=f"{where}.due_date",
                code="DUE_DATES_NOT_INCREASING",
            )
        periods.append((due, Money.parse(period.amount, currency, field=f"{where}.amount")))
    planned = sum((amount.minor for _, amount in periods), 0)
    if planned != total.minor:
        raise InvalidArgument(
            f"the periods sum to {Money(planned, currency)}, not the total {total}",
            field="total_amount",
            code="RENT_PLAN_SUM_MISMATCH",
        )
    return LeaseOrderRequest(body.out_order_no, body.buyer_id, body.title, total, tuple(periods))
