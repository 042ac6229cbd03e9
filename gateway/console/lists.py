"""The console's lists and dashboard: the /ops list handlers answer them (same filters, same
views, same cursor paging), called in-process with the page's query minus what is empty."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from yarl import URL

from core.errors import DomainError
from gateway.console.auth import page, render
from gateway.console.i18n import error_key
from gateway.http import lists as ops_lists
from gateway.keys import CONTAINER
from gateway.storage.queries.notification_list import NOTIFICATION_STATUSES

OpsList = Callable[[web.Request], Awaitable[web.Response]]

# name: (the /ops list handler, its /ops path, its filters: field -> choices or None for text)
LISTS: dict[str, tuple[OpsList, str, dict[str, list[str] | None]]] = {
    "payments": (
        ops_lists.ops_list_payments,
        "/ops/payments",
        {
            "status": ops_lists.PAYMENT_STATUSES,
            "channel": None,
            "app_id": None,
            "escalated": ["true", "false"],
        },
    ),
    "bills": (
        ops_lists.ops_list_bills,
        "/ops/bills",
        {
            "status": ops_lists.BILL_STATUSES,
            "pay_mode": ops_lists.PAY_MODES,
            "app_id": None,
            "needs_action": ["true", "false"],
        },
    ),
    "payouts": (
        ops_lists.ops_list_payouts,
        "/ops/payouts",
        {"status": ops_lists.PAYOUT_STATUSES, "app_id": None, "serial_no": None},
    ),
    "lease_orders": (
        ops_lists.ops_list_lease_orders,
        "/ops/lease/orders",
        {"status": ops_lists.ORDER_STATUSES, "period_status": ops_lists.PERIOD_STATUSES, "app_id": None},
    ),
    "notifications": (
        ops_lists.ops_list_notifications,
        "/ops/notifications",
        {"status": list(NOTIFICATION_STATUSES), "app_id": None, "event_type": None},
    ),
}
PAGING = ("limit", "starting_after", "ending_before", "created_from", "created_to")


async def ops_list(request: web.Request, name: str, query: dict[str, str]) -> dict[str, Any]:
    """The /ops list's answer for this query (the same request the JSON API would serve)."""
    handler, path, _ = LISTS[name]
    inner = request.clone(method="GET", rel_url=URL(path).with_query(query))
    answer: dict[str, Any] = json.loads((await handler(inner)).text or "{}")
    return answer


def _query_of(request: web.Request, name: str) -> dict[str, str]:
    known = set(LISTS[name][2]) | set(PAGING)
    return {k: v for k, v in request.query.items() if k in known and v != ""}


def _pager(name: str, query: dict[str, str], answer: dict[str, Any]) -> dict[str, str | None]:
    """Links to the older and newer pages: going back (`ending_before`), older items always
    follow and `has_more` tells of newer ones; going forward, the other way round."""
    items = answer["data"]
    if not items:
        return {"older": None, "newer": None}
    plain = {k: v for k, v in query.items() if k not in ("starting_after", "ending_before")}
    backwards = "ending_before" in query
    has_older = backwards or answer["has_more"]
    has_newer = answer["has_more"] if backwards else "starting_after" in query

    def link(**cursor: str) -> str:
        return str(URL(f"/console/{name}").with_query({**plain, **cursor}))

    return {
        "older": link(starting_after=items[-1]["id"]) if has_older else None,
        "newer": link(ending_before=items[0]["id"]) if has_newer else None,
    }


def _list_page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @page(LISTS[name][1])
    async def show(request: web.Request) -> web.StreamResponse:
        """The list; a filter it refuses is said above the filters, as they were filled in."""
        query = _query_of(request, name)
        status, problem = 200, None
        try:
            answer = await ops_list(request, name, query)
        except DomainError as exc:
            answer = {"data": [], "has_more": False}
            status = exc.http_status
            problem = {"message": error_key(exc.code, exc.http_status), "detail": exc.message}
        context = {"name": name, "items": answer["data"], "filters": LISTS[name][2], "query": query}
        context |= {"problem": problem, **_pager(name, query, answer)}
        return render(request, f"list_{name}.html", context, status=status)

    show.__name__ = f"list_{name}"
    return show


async def _count(request: web.Request, name: str, **query: str) -> dict[str, Any]:
    """How many (up to 100, then "100+") and the link to the filtered list."""
    answer = await ops_list(request, name, {**query, "limit": "100"})
    shown = f"{len(answer['data'])}{'+' if answer['has_more'] else ''}"
    return {
        "count": shown,
        "busy": bool(answer["data"]),
        "href": str(URL(f"/console/{name}").with_query(query)),
    }


@page()
async def dashboard(request: web.Request) -> web.StreamResponse:
    """What needs a person now, each count linking to its filtered list."""
    cards = [
        ("dash.payouts_review", await _count(request, "payouts", status="pending_review")),
        ("dash.bills_action", await _count(request, "bills", needs_action="true")),
        ("dash.escalated", await _count(request, "payments", escalated="true")),
        ("dash.failing_hooks", await _count(request, "notifications", status="failing")),
        ("dash.dead_hooks", await _count(request, "notifications", status="dead")),
        ("dash.failed_periods", await _count(request, "lease_orders", period_status="failed")),
    ]
    ledger = await request.app[CONTAINER].accounts().ledger_check()
    return render(request, "dashboard.html", {"cards": cards, "ledger": ledger})


def list_pages() -> dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    return {name: _list_page(name) for name in LISTS}
