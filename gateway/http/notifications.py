"""HTTP handlers of webhook notifications for operators: list deliveries by status, replay one."""

from __future__ import annotations

from aiohttp import web

from core.errors import InvalidArgument
from gateway.http.errors import body_of
from gateway.http.params import int_query, services
from gateway.keys import operator_of


async def list_notifications(request: web.Request) -> web.Response:
    status = request.query.get("status", "dead")
    if status not in {"pending", "delivered", "dead", "failing"}:
        raise InvalidArgument("status must be pending, failing, delivered or dead", field="status")
    limit = int_query(request, "limit", 100, 1, 1000)
    assert limit is not None
    return body_of({"notifications": await services(request).outbox_admin().deliveries(status, limit)})


async def replay_notification(request: web.Request) -> web.Response:
    item = await services(request).outbox_admin().replay(request.match_info["id"], operator_of(request).login)
    return body_of(item, 202)
