"""HTTP handler of webhook notifications for operators: replay one (their list is in lists.py)."""

from __future__ import annotations

from aiohttp import web

from gateway.http.errors import body_of
from gateway.http.params import services
from gateway.keys import operator_of


async def replay_notification(request: web.Request) -> web.Response:
    item = await services(request).outbox_admin().replay(request.match_info["id"], operator_of(request).login)
    return body_of(item, 202)
