"""The lists, newest first with cursor paging (gateway/http/listing.py): operators' lists of
every app's payments, bills, payouts, lease orders and webhook notifications, and each caller
app's lists of its own (a caller's list shows its app's rows only). A caller's GET with its own
number (?out_request_no, ?bill_code, ?serial_no, ?out_order_no) still answers that one item."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from core.bills.model import BillStatus, PayMode
from core.errors import InvalidArgument
from core.lease.status import OrderStatus, PeriodStatus
from core.payments.model import PaymentStatus
from core.payouts.model import PayoutStatus
from core.usecases.bills.views import bill_view, ops_bill_view
from core.usecases.lease.views import lease_view, ops_lease_view
from core.usecases.payments.views import ops_payment_view, payment_view
from core.usecases.payouts.views import payout_view
from gateway.http import bills, lease, payments, payouts
from gateway.http.listing import (
    bool_query,
    choice_query,
    created_window,
    list_answer,
    page_queries,
    page_request,
    text_query,
)
from gateway.http.params import services
from gateway.http.schemas.answer_lists import (
    BillListOrOne,
    LeaseOrderListOrOne,
    NotificationList,
    OpsBillList,
    OpsLeaseOrderList,
    OpsPaymentList,
    PaymentListOrOne,
    PayoutListOrOne,
    PayoutPage,
)
from gateway.keys import app_id_of
from gateway.storage.queries.bill_list import BillFilter
from gateway.storage.queries.lease_list import LeaseOrderFilter
from gateway.storage.queries.lists import ListQueries
from gateway.storage.queries.notification_list import NOTIFICATION_STATUSES, NotificationFilter
from gateway.storage.queries.payment_list import PaymentFilter
from gateway.storage.queries.payout_list import PayoutFilter

if TYPE_CHECKING:
    from gateway.http.routes import Route

PAYMENT_STATUSES = [s.value for s in PaymentStatus]
BILL_STATUSES = [s.value for s in BillStatus]
PAY_MODES = [m.value for m in PayMode]
PAYOUT_STATUSES = [s.value for s in PayoutStatus]
ORDER_STATUSES = [s.value for s in OrderStatus]
PERIOD_STATUSES = [s.value for s in PeriodStatus]


def lookup_query(request: web.Request, key: str) -> bool:
    """Whether a caller's list request is the look-up of one item by its own number; the number
    then stands alone (a filter beside it would be silently ignored: refused instead)."""
    if request.query.get(key) is None:
        return False
    others = sorted(name for name in request.query if name != key)
    if others:
        raise InvalidArgument(
            f"{key} looks up one item: leave out {', '.join(others)} or drop {key} to list", field=others[0]
        )
    return True


def _lists(request: web.Request) -> ListQueries:
    lists: ListQueries = services(request).list_queries()
    return lists


# -- callers' lists: their own rows only ------------------------------------------------------
async def list_payments(request: web.Request) -> web.Response:
    if lookup_query(request, "out_request_no"):
        return await payments.find_payment(request)
    f = PaymentFilter(
        status=choice_query(request, "status", PAYMENT_STATUSES),
        channel=text_query(request, "channel"),
        **created_window(request),
    )
    listed = await _lists(request).payments(f, page_request(request), app_scope=app_id_of(request))
    return list_answer([payment_view(i.payment) for i in listed.items], listed.has_more)


async def list_bills(request: web.Request) -> web.Response:
    if lookup_query(request, "bill_code"):
        return await bills.find_bill(request)
    f = BillFilter(
        status=choice_query(request, "status", BILL_STATUSES),
        pay_mode=choice_query(request, "pay_mode", PAY_MODES),
        **created_window(request),
    )
    listed = await _lists(request).bills(f, page_request(request), app_scope=app_id_of(request))
    return list_answer([bill_view(b) for b in listed.items], listed.has_more)


async def list_payouts(request: web.Request) -> web.Response:
    if lookup_query(request, "serial_no"):
        return await payouts.find_payout(request)
    f = PayoutFilter(status=choice_query(request, "status", PAYOUT_STATUSES), **created_window(request))
    listed = await _lists(request).payouts(f, page_request(request), app_scope=app_id_of(request))
    return list_answer([payout_view(p) for p in listed.items], listed.has_more)


async def list_lease_orders(request: web.Request) -> web.Response:
    if lookup_query(request, "out_order_no"):
        return await lease.find_lease_order(request)
    f = LeaseOrderFilter(
        status=choice_query(request, "status", ORDER_STATUSES),
        period_status=choice_query(request, "period_status", PERIOD_STATUSES),
        **created_window(request),
    )
    listed = await _lists(request).lease_orders(f, page_request(request), app_scope=app_id_of(request))
    return list_answer([lease_view(o) for o in listed.items], listed.has_more)


# -- operators' lists: every app's rows ------------------------------------------------------
async def ops_list_payments(request: web.Request) -> web.Response:
    f = PaymentFilter(
        status=choice_query(request, "status", PAYMENT_STATUSES),
        channel=text_query(request, "channel"),
        app_id=text_query(request, "app_id"),
        escalated=bool_query(request, "escalated"),
        **created_window(request),
    )
    listed = await _lists(request).payments(f, page_request(request))
    return list_answer([ops_payment_view(i.payment, i.escalated) for i in listed.items], listed.has_more)


async def ops_list_bills(request: web.Request) -> web.Response:
    f = BillFilter(
        status=choice_query(request, "status", BILL_STATUSES),
        pay_mode=choice_query(request, "pay_mode", PAY_MODES),
        app_id=text_query(request, "app_id"),
        needs_action=bool_query(request, "needs_action"),
        **created_window(request),
    )
    listed = await _lists(request).bills(f, page_request(request))
    return list_answer([ops_bill_view(b) for b in listed.items], listed.has_more)


async def ops_list_payouts(request: web.Request) -> web.Response:
    f = PayoutFilter(
        status=choice_query(request, "status", PAYOUT_STATUSES),
        app_id=text_query(request, "app_id"),
        serial_no=text_query(request, "serial_no"),
        **created_window(request),
    )
    listed = await _lists(request).payouts(f, page_request(request))
    return list_answer([payout_view(p) for p in listed.items], listed.has_more)


async def ops_list_lease_orders(request: web.Request) -> web.Response:
    f = LeaseOrderFilter(
        status=choice_query(request, "status", ORDER_STATUSES),
        app_id=text_query(request, "app_id"),
        period_status=choice_query(request, "period_status", PERIOD_STATUSES),
        **created_window(request),
    )
    listed = await _lists(request).lease_orders(f, page_request(request))
    return list_answer([ops_lease_view(o) for o in listed.items], listed.has_more)


async def ops_list_notifications(request: web.Request) -> web.Response:
    f = NotificationFilter(
        status=choice_query(request, "status", NOTIFICATION_STATUSES),
        app_id=text_query(request, "app_id"),
        event_type=text_query(request, "event_type"),
        **created_window(request),
    )
    listed = await _lists(request).notifications(f, page_request(request))
    return list_answer(listed.items, listed.has_more)


def list_routes() -> tuple[Route, ...]:
    """The lists' rows of the route table, with the query parameters each reads."""
    from gateway.http.routes import Query, Route

    def text(name: str, description: str, required: bool = False) -> Query:
        return Query(name, {"type": "string", "minLength": 1, "maxLength": 128}, description, required)

    def choice(name: str, values: list[str], description: str = "") -> Query:
        return Query(name, {"enum": values}, description)

    def flag(name: str, description: str) -> Query:
        return Query(name, {"type": "boolean"}, description)

    paging = page_queries()
    app = text("app_id", "only this caller app's")
    pay_status = choice("status", PAYMENT_STATUSES)
    bill_filters = (choice("status", BILL_STATUSES), choice("pay_mode", PAY_MODES))
    payout_status = choice("status", PAYOUT_STATUSES)
    order_filters = (
        choice("status", ORDER_STATUSES),
        choice("period_status", PERIOD_STATUSES, "orders with a rent period in this status (e.g. failed)"),
    )
    routes = (
        Route(
            "GET",
            "/v1/payments",
            list_payments,
            "The app's payments, newest first; or the one with ?out_request_no",
            None,
            "app",
            query=(text("out_request_no", "the caller's number: answers that payment alone"), pay_status)
            + (text("channel", "only this channel's"),)
            + paging,
            response=PaymentListOrOne,
        ),
        Route(
            "GET",
            "/v1/bills",
            list_bills,
            "The app's bills, newest first; or the one with ?bill_code",
            None,
            "app",
            query=(text("bill_code", "the caller's bill code: answers that bill alone"), *bill_filters)
            + paging,
            response=BillListOrOne,
        ),
        Route(
            "GET",
            "/v1/payouts",
            list_payouts,
            "The app's payouts, newest first; or the one with ?serial_no",
            None,
            "app",
            query=(text("serial_no", "the caller's serial number: answers that payout alone"), payout_status)
            + paging,
            response=PayoutListOrOne,
        ),
        Route(
            "GET",
            "/v1/lease/orders",
            list_lease_orders,
            "The app's lease orders, newest first; or the one with ?out_order_no",
            None,
            "app",
            query=(
                text("out_order_no", "the caller's order number: answers that order alone"),
                *order_filters,
            )
            + paging,
            response=LeaseOrderListOrOne,
        ),
        Route(
            "GET",
            "/ops/payments",
            ops_list_payments,
            "Every app's payments, newest first, by status, channel, app, created time, escalation",
            None,
            "ops",
            query=(pay_status, text("channel", "only this channel's"), app)
            + (flag("escalated", "only those whose unknown outcome was escalated (true) or not"),)
            + paging,
            response=OpsPaymentList,
        ),
        Route(
            "GET",
            "/ops/bills",
            ops_list_bills,
            "Every app's bills, newest first, by status, pay mode, app, created time, needing action",
            None,
            "ops",
            query=(*bill_filters, app)
            + (flag("needs_action", "failed, unknown or with an error-handling action allowed (true)"),)
            + paging,
            response=OpsBillList,
        ),
        Route(
            "GET",
            "/ops/payouts",
            ops_list_payouts,
            "Every app's payouts, newest first (status=pending_review: the review queue)",
            None,
            "ops",
            query=(payout_status, app, text("serial_no", "the caller's serial number")) + paging,
            response=PayoutPage,
        ),
        Route(
            "GET",
            "/ops/lease/orders",
            ops_list_lease_orders,
            "Every app's lease orders, newest first, by status, app, a period's status, created time",
            None,
            "ops",
            query=(order_filters[0], app, order_filters[1]) + paging,
            response=OpsLeaseOrderList,
        ),
        Route(
            "GET",
            "/ops/notifications",
            ops_list_notifications,
            "Webhook deliveries with their payloads, newest first (failing: pending after a failed try)",
            None,
            "ops",
            query=(
                choice("status", list(NOTIFICATION_STATUSES)),
                app,
                text("event_type", "only this event type, e.g. payment.succeeded"),
            )
            + paging,
            response=NotificationList,
        ),
    )
    return routes
