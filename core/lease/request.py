"""The pre-order (同步前置订单) as the caller sends it, and the rules it is checked against: the
shape of the request is the HTTP body's (`gateway.http.schemas.lease`), the rules are here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from core.errors import InvalidArgument
from core.money import Money, check_currency

LEASE_CURRENCY = "CNY"
MAX_PERIODS = 120
ALIPAY_USER_ID = re.compile(r"^2088[0-9]{12}$")
OUT_ORDER_NO = r"^[A-Za-z0-9_.:\-]{1,64}$"

# The days a rent plan may fall on: a lease of this century (a day of year 1 was a 500 once:
# its Beijing midnight is before the first UTC day a datetime can hold).
FIRST_DUE_DATE = date(2000, 1, 1)
LAST_DUE_DATE = date(2099, 12, 31)


class RentPeriodInput(Protocol):
    """One period of the rent plan as the caller wrote it."""

    @property
    def due_date(self) -> str:
        """YYYY-MM-DD, the Beijing calendar day from which it is collected."""
        ...

    @property
    def amount(self) -> str:
        """A decimal string, e.g. "199.00"."""
        ...


class PreOrderInput(Protocol):
    """同步前置订单 as the caller wrote it, its shape already checked (the HTTP body
    `gateway.http.schemas.lease.LeaseOrderBody` is one)."""

    @property
    def out_order_no(self) -> str: ...
    @property
    def buyer_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def total_amount(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def period_count(self) -> int: ...
    @property
    def periods(self) -> Sequence[RentPeriodInput]: ...


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


def check_order(body: PreOrderInput) -> LeaseOrderRequest:
    """The rules of a pre-order beyond its shape: CNY, a real Alipay user, one amount per
    period, strictly later due dates, and periods summing to the total."""
    currency = check_currency(body.currency)
    if currency != LEASE_CURRENCY:
        raise InvalidArgument(
            f"lease orders are collected in {LEASE_CURRENCY} only",
            field="currency",
            code="UNSUPPORTED_CURRENCY",
        )
    if not ALIPAY_USER_ID.fullmatch(body.buyer_id):
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
        if not FIRST_DUE_DATE <= due <= LAST_DUE_DATE:
            raise InvalidArgument(
                f"{where}.due_date must fall in {FIRST_DUE_DATE.year}–{LAST_DUE_DATE.year}",
                field=f"{where}.due_date",
            )
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
