"""The route table in one place; /openapi.json is generated from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from gateway.http import accounts, notifications, payments
from gateway.http.bills import bill_routes
from gateway.http.lease import lease_routes
from gateway.http.payouts import payout_routes
from gateway.http.schemas.accounts import FundBody, OpenAccountBody
from gateway.http.schemas.payments import ExplainBody, PaymentBody
from gateway.keys import CONTAINER


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    body: type[BaseModel] | None = None
    auth: str | None = None  # "app" (signed request), "ops" (bearer token) or None


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
    return web.json_response(openapi_document())


ROUTES: tuple[Route, ...] = (
    (
        Route("GET", "/healthz", healthz, "Liveness and database reachability"),
        Route("GET", "/metrics", metrics, "Prometheus metrics"),
        Route("GET", "/openapi.json", openapi, "This API description"),
        Route(
            "POST", "/v1/accounts", accounts.open_account, "Open a virtual account", OpenAccountBody, "app"
        ),
        Route("GET", "/v1/accounts/{id}", accounts.get_account, "An account with its balances", None, "app"),
        Route(
            "GET",
            "/v1/accounts/{id}/entries",
            accounts.account_entries,
            "The account's ledger flows, newest first (?limit, ?cursor)",
            None,
            "app",
        ),
        Route(
            "POST",
            "/v1/payments",
            payments.create_payment,
            "Create a payment (idempotent on out_request_no)",
            PaymentBody,
            "app",
        ),
        Route("GET", "/v1/payments", payments.find_payment, "Find a payment by ?out_request_no", None, "app"),
        Route(
            "GET",
            "/v1/payments/{id}",
            payments.get_payment,
            "A payment with its status and channel",
            None,
            "app",
        ),
        Route(
            "GET",
            "/v1/payments/{id}/flow",
            payments.payment_flow,
            "The payment's flow-log timeline",
            None,
            "app",
        ),
        Route(
            "POST",
            "/v1/routes/explain",
            payments.explain_route,
            "Which channel and rule a payment body would route to",
            ExplainBody,
            "app",
        ),
        Route(
            "POST",
            "/ops/accounts/{id}/fund",
            accounts.fund_account,
            "Credit an account from the external cash-in account (idempotent)",
            FundBody,
            "ops",
        ),
        Route(
            "GET",
            "/ops/ledger/check",
            accounts.ledger_check,
            "Verify the ledger's balance invariants",
            None,
            "ops",
        ),
        Route(
            "GET",
            "/ops/notifications",
            notifications.list_notifications,
            "Webhook deliveries by ?status (dead, failing, pending, delivered)",
            None,
            "ops",
        ),
        Route(
            "POST",
            "/ops/notifications/{id}/replay",
            notifications.replay_notification,
            "Deliver a failed or dead notification again",
            None,
            "ops",
        ),
        Route(
            "GET",
            "/ops/payments/stuck",
            payments.list_stuck_payments,
            "Payments whose outcome is still unknown or processing (escalated first)",
            None,
            "ops",
        ),
        Route(
            "POST",
            "/callbacks/{channel}",
            payments.channel_callback,
            "A channel's asynchronous notification (verified by the channel's plugin)",
        ),
    )
    + payout_routes()
    + bill_routes()
    + lease_routes()
)


def setup_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "AppSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": "HMAC-SHA256 over METHOD, path+query, X-Timestamp, "
        "X-Nonce and sha256(body), with X-App-Id",
    },
    "OperatorToken": {"type": "http", "scheme": "bearer"},
}

SECURITY_OF_AUTH: dict[str | None, list[dict[str, list[str]]]] = {
    "app": [{"AppSignature": []}],
    "ops": [{"OperatorToken": []}],
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route, request bodies from their pydantic schemas."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "paygate: unified payment channel gateway", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    """One route's operation; the schema of its body (and the models it uses) join `schemas`."""
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "responses": {"200": {"description": "OK"}, "4XX": error},
    }
    params = _path_parameters(route.path)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = _request_body(route.body, schemas)
    if route.auth in SECURITY_OF_AUTH:
        op["security"] = SECURITY_OF_AUTH[route.auth]
    return op


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": p.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
        for p in path.split("/")
        if p.startswith("{")
    ]


def _request_body(body: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[body.__name__] = schema
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
    }
