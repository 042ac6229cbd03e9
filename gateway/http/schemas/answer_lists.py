"""The shapes of the lists' answers (Stripe's convention: `{"object": "list", "data": [...],
"has_more": bool}`), one per kind of item, as /openapi.json describes them. A caller's list
route given its own number (?out_request_no and the like) answers that one item instead."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import RootModel

from gateway.http.schemas.answers import Answer, DeliveryAnswer, PaymentAnswer
from gateway.http.schemas.answers_workflows import (
    BillAnswer,
    LeaseOrderAnswer,
    OpsBillAnswer,
    PayoutAnswer,
)


class ListAnswer(Answer):
    object: Literal["list"]
    has_more: bool


class OpsPaymentAnswer(PaymentAnswer):
    app_id: str | None
    escalated: bool


class OpsLeaseOrderAnswer(LeaseOrderAnswer):
    app_id: str


class NotificationAnswer(DeliveryAnswer):
    payload: dict[str, Any]


class PaymentList(ListAnswer):
    data: list[PaymentAnswer]


class OpsPaymentList(ListAnswer):
    data: list[OpsPaymentAnswer]


class BillList(ListAnswer):
    data: list[BillAnswer]


class OpsBillList(ListAnswer):
    data: list[OpsBillAnswer]


class PayoutPage(ListAnswer):
    data: list[PayoutAnswer]


class LeaseOrderList(ListAnswer):
    data: list[LeaseOrderAnswer]


class OpsLeaseOrderList(ListAnswer):
    data: list[OpsLeaseOrderAnswer]


class NotificationList(ListAnswer):
    data: list[NotificationAnswer]


class PaymentListOrOne(RootModel[PaymentList | PaymentAnswer]):
    """The app's payments, or the one its ?out_request_no names."""


class BillListOrOne(RootModel[BillList | BillAnswer]):
    """The app's bills, or the one its ?bill_code names."""


class PayoutListOrOne(RootModel[PayoutPage | PayoutAnswer]):
    """The app's payouts, or the one its ?serial_no names."""


class LeaseOrderListOrOne(RootModel[LeaseOrderList | LeaseOrderAnswer]):
    """The app's lease orders, or the one its ?out_order_no names."""
