"""Detail pages of payments, bills, payouts and lease orders: the item as /ops shows it, its
flow timeline, the bank packets and channel exchanges (masked by the channel plugins), and the
webhooks sent about it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.bills.actions import ErrorAction
from core.errors import NotFound
from core.usecases.bills.views import ops_bill_view
from core.usecases.lease.views import ops_lease_view
from core.usecases.payments.views import payment_view
from core.usecases.payouts.views import payout_view
from gateway.console.auth import page, render
from gateway.console.timeline import timeline
from gateway.keys import CONTAINER
from gateway.storage.queries.console import ConsoleQueries

CONSOLE_QUERIES: web.AppKey[ConsoleQueries] = web.AppKey("console_queries", ConsoleQueries)


def _done_action(request: web.Request) -> str | None:
    """The bill action just done (`?done=`, set by the action's redirect), to say so on the page."""
    done = request.query.get("done")
    return done if done in {action.value for action in ErrorAction} else None


async def _detail(
    request: web.Request,
    kind: str,
    item: dict[str, Any],
    flow: list[dict[str, Any]],
    subjects: list[str],
    exchanges: list[dict[str, Any]] | None = None,
) -> web.Response:
    webhooks = await request.app[CONSOLE_QUERIES].webhooks_for(subjects)
    context = {
        "kind": kind,
        "item": item,
        "flow": timeline(flow),
        "exchanges": exchanges,
        "webhooks": webhooks,
        "done": _done_action(request),
    }
    return render(request, f"detail_{kind}.html", context)


@page("/ops/bills/{id}")
async def bill_detail(request: web.Request) -> web.StreamResponse:
    container = request.app[CONTAINER]
    bill = await container.bill_context().get(request.match_info["id"])
    await container.flow().flush()
    queries = container.bill_queries()
    flow = await queries.timeline(bill)
    payments = [payment_id for _, payment_id in await queries.payments(bill)]
    exchanges = await queries.exchanges(bill)
    return await _detail(request, "bill", ops_bill_view(bill), flow, [bill.id, *payments], exchanges)


@page("/ops/payouts/{id}")
async def payout_detail(request: web.Request) -> web.StreamResponse:
    container = request.app[CONTAINER]
    payout = await container.payouts().get(request.match_info["id"])
    await container.flow().flush()
    reader = container.flow_reader()
    flow = await reader.timeline(payout.id)
    if payout.payment_id:
        flow += await reader.timeline(payout.payment_id)
    return await _detail(request, "payout", payout_view(payout), flow, [payout.id, payout.payment_id or ""])


@page("/ops/payments")
async def payment_detail(request: web.Request) -> web.StreamResponse:
    container = request.app[CONTAINER]
    payment_id = request.match_info["id"]
    async with container.read_uow() as uow:
        payment = await uow.payments.get(payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist", code="PAYMENT_NOT_FOUND")
    await container.flow().flush()
    flow = await container.flow_reader().timeline(payment.id)
    item = {**payment_view(payment), "app_id": payment.app_id}  # accounts outside the ledger masked
    return await _detail(request, "payment", item, flow, [payment.id])


@page("/ops/lease/orders")
async def lease_order_detail(request: web.Request) -> web.StreamResponse:
    container = request.app[CONTAINER]
    order = await container.lease_orders().get(request.match_info["id"])
    await container.flow().flush()
    flow = await container.flow_reader().timeline(order.id)
    return await _detail(request, "lease_order", ops_lease_view(order), flow, [order.id])
