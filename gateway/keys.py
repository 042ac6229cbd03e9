"""Typed application and request keys shared by the HTTP layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from core.operators.model import Operator

if TYPE_CHECKING:
    from gateway.container import Container

CONTAINER: web.AppKey[Container] = web.AppKey("container")


def app_id_of(request: web.Request) -> str:
    app_id = request.get(APP_ID)
    assert isinstance(app_id, str), "route is missing caller authentication"
    return app_id


def operator_of(request: web.Request) -> Operator:
    """The operator the /ops middleware authenticated; `.login` is the identity actions record."""
    operator = request.get(OPERATOR)
    assert isinstance(operator, Operator), "route is missing operator authentication"
    return operator


async def raw_body(request: web.Request) -> bytes:
    body = request.get(RAW_BODY)
    if body is None:
        body = await request.read()
        request[RAW_BODY] = body
    assert isinstance(body, bytes)
    return body


TRACE_ID: web.RequestKey[str] = web.RequestKey("trace_id", str)
RAW_BODY: web.RequestKey[bytes] = web.RequestKey("raw_body", bytes)
APP_ID: web.RequestKey[str] = web.RequestKey("app_id", str)
OPERATOR: web.RequestKey[Operator] = web.RequestKey("operator", Operator)
