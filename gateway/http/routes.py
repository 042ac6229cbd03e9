"""The route table in one place; /openapi.json is generated from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from core.errors import InvalidArgument
from gateway.http import accounts, notifications, operators, payments
from gateway.http.approvals import approval_routes
from gateway.http.bills import bill_routes
from gateway.http.lease import lease_routes
from gateway.http.lists import list_routes
from gateway.http.metrics_access import metrics_refusal
from gateway.http.openapi import openapi_document
from gateway.http.payouts import payout_routes
from gateway.http.schemas.accounts import FundBody, OpenAccountBody
from gateway.http.schemas.answers import (
    AccountAnswer,
    DeliveryAnswer,
    EntriesPage,
    Health,
    LedgerCheckAnswer,
    OperatorAnswer,
    PaymentAnswer,
    PaymentFlow,
    RouteExplanation,
    StuckPayments,
)
from gateway.http.schemas.answers_ops import FundingOrProposal
from gateway.http.schemas.payments import ExplainBody, PaymentBody
from gateway.http.trades import trade_routes
from gateway.keys import CONTAINER


@dataclass(frozen=True)
class Query:
    """A query parameter a handler reads, as /openapi.json describes it."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    body: type[BaseModel] | None = None
    auth: str | None = None  # "app" (signed request), "ops" (an operator's API token) or None
    query: tuple[Query, ...] = ()
    ok: tuple[int, ...] = (200,)  # the statuses of a success
    answers: tuple[str, ...] = ("application/json",)  # the media types of a success
    errors: tuple[int, ...] = ()  # refusals beyond those of its kind (see openapi.error_statuses)
    text_errors: tuple[int, ...] = ()  # refusals that may come as text/plain
    path_schemas: dict[str, Any] = field(default_factory=dict)  # path parameters' schemas, if not strings
    models: tuple[type[BaseModel], ...] = ()  # more schemas the document shows (e.g. of payout items)
    # the shape of a JSON success (gateway/http/schemas/answers*.py); None: not JSON, or this document
    response: type[BaseModel] | None = None


async def healthz(request: web.Request) -> web.Response:
    import sqlalchemy as sa

    container = request.app[CONTAINER]
    async with container.engine().connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
    return web.json_response({"status": "ok", "channels": sorted(container.channels())})


async def metrics(request: web.Request) -> web.Response:
    import sqlalchemy as sa

    from gateway.storage import tables as t

    container = request.app[CONTAINER]
    refusal = metrics_refusal(request, container.settings().metrics)
    if refusal is not None:
        return refusal
    m = container.metrics()
    async with container.engine().connect() as conn:
        m.escalated.set(
            (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.payments)
                    .where(t.payments.c.escalated, t.payments.c.status.in_(("processing", "unknown")))
                )
            ).scalar_one()
        )
        m.outbox_dead.set(
            (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.status == "dead")
                )
            ).scalar_one()
        )
    registry = m.registry
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(ROUTES))


ROUTES: tuple[Route, ...] = (
    (
        Route("GET", "/healthz", healthz, "Liveness and database reachability", response=Health),
        Route(
            "GET",
            "/metrics",
            metrics,
            "Prometheus metrics: to this host, or with the metrics token (Authorization: Bearer)",
            answers=("text/plain",),
            errors=(401, 403),
        ),
        Route("GET", "/openapi.json", openapi, "This API description"),
        Route(
            "POST",
            "/v1/accounts",
            accounts.open_account,
            "Open a virtual account",
            OpenAccountBody,
            "app",
            ok=(201,),
            response=AccountAnswer,
        ),
        Route(
            "GET",
            "/v1/accounts/{id}",
            accounts.get_account,
            "An account with its balances",
            None,
            "app",
            response=AccountAnswer,
        ),
        Route(
            "GET",
            "/v1/accounts/{id}/entries",
            accounts.account_entries,
            "The account's ledger flows, newest first (?limit, ?cursor)",
            None,
            "app",
            query=(
                Query("limit", {"type": "integer", "minimum": 1}, "page size (at most limits.page_size_max)"),
                Query("cursor", {"type": "integer", "minimum": 1}, "the next_cursor of the page before"),
            ),
            response=EntriesPage,
        ),
        Route(
            "POST",
            "/v1/payments",
            payments.create_payment,
            "Create a payment (idempotent on out_request_no)",
            PaymentBody,
            "app",
            ok=(201, 200),
            response=PaymentAnswer,
        ),
        Route(
            "GET",
            "/v1/payments/{id}",
            payments.get_payment,
            "A payment with its status and channel",
            None,
            "app",
            response=PaymentAnswer,
        ),
        Route(
            "GET",
            "/v1/payments/{id}/flow",
            payments.payment_flow,
            "The payment's flow-log timeline",
            None,
            "app",
            response=PaymentFlow,
        ),
        Route(
            "POST",
            "/v1/routes/explain",
            payments.explain_route,
            "Which channel and rule a payment body would route to",
            ExplainBody,
            "app",
            response=RouteExplanation,
        ),
        Route(
            "GET",
            "/ops/me",
            operators.whoami,
            "The operator calling: login, roles, permissions",
            None,
            "ops",
            response=OperatorAnswer,
        ),
        Route(
            "POST",
            "/ops/accounts/{id}/fund",
            accounts.fund_account,
            "Credit an account from the external cash-in account (idempotent); with "
            "ops.maker_checker.funding: a proposal a second finance operator confirms (202)",
            FundBody,
            "ops",
            ok=(201, 200, 202),
            response=FundingOrProposal,
        ),
        Route(
            "GET",
            "/ops/ledger/check",
            accounts.ledger_check,
            "Verify the ledger's balance invariants",
            None,
            "ops",
            response=LedgerCheckAnswer,
        ),
        Route(
            "POST",
            "/ops/notifications/{id}/replay",
            notifications.replay_notification,
            "Deliver a failed or dead notification again",
            None,
            "ops",
            ok=(202,),
            response=DeliveryAnswer,
        ),
        Route(
            "GET",
            "/ops/payments/stuck",
            payments.list_stuck_payments,
            "Payments whose outcome is still unknown or processing (escalated first)",
            None,
            "ops",
            response=StuckPayments,
        ),
        Route(
            "POST",
            "/callbacks/{channel}",
            payments.channel_callback,
            "A channel's asynchronous notification (verified by the channel's plugin)",
            answers=("text/plain",),
            errors=(400, 404),
            text_errors=(400,),
        ),
    )
    + payout_routes()
    + trade_routes()
    + bill_routes()
    + lease_routes()
    + list_routes()
    + approval_routes()
)


def setup_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _known_query_only(route))


def _known_query_only(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route's handler, refusing a query parameter the route does not take (a misspelt
    filter must not silently widen a list: 400 UNKNOWN_PARAMETER naming it) and an empty one
    (`?status=` is neither a status nor no filter: 400 INVALID_ARGUMENT)."""
    known = {q.name for q in route.query}

    async def handler(request: web.Request) -> web.StreamResponse:
        unknown = sorted(set(request.query) - known)
        if unknown:
            takes = ", ".join(sorted(known)) or "none"
            raise InvalidArgument(
                f"unknown query parameter {unknown[0]!r}: this route takes {takes}",
                field=unknown[0],
                code="UNKNOWN_PARAMETER",
            )
        empty = sorted(name for name, value in request.query.items() if value == "")
        if empty:
            raise InvalidArgument(
                f"query parameter {empty[0]!r} is empty: give it a value or leave it out", field=empty[0]
            )
        return await route.handler(request)

    handler.__name__ = route.handler.__name__
    return handler
