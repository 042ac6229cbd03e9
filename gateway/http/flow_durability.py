"""The middleware that answers a request only once the flow-log records it made are written."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.http.errors import Handler, error_response
from gateway.keys import CONTAINER

log = logging.getLogger("paygate.flowlog")


@web.middleware
async def flow_durability_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outside the error middleware, so the nodes of a refused request (a failed step, seed 002)
    are written before its 4xx too. A request whose nodes cannot be written is answered 503:
    its business write may have committed, and a repeat of it returns that first result."""
    flow = request.app[CONTAINER].flow()
    with flow.request_scope() as scope:
        response = await handler(request)
    if scope.last:
        try:
            await flow.durable(scope.last)
        except Exception:  # noqa: BLE001 - logged and counted by the buffer
            return error_response(
                503, "FLOW_LOG_UNAVAILABLE", "the request's flow log could not be written; repeat the request"
            )
    return response
