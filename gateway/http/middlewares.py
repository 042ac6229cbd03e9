"""Middlewares: trace id, metrics, caller authentication on /v1, operators and their roles on /ops."""

from __future__ import annotations

import logging
import time

import structlog
from aiohttp import hdrs, web

from core.ids import random_hex, utcnow
from core.operators.model import role_needed
from gateway.auth import Unauthenticated, authenticate
from gateway.http.errors import Handler, error_response
from gateway.http.ops_access import permission_for
from gateway.http.request_body import bearer_token, check_address, header_text
from gateway.keys import APP_ID, CONTAINER, OPERATOR, RAW_BODY, TRACE_ID

TRACE_HEADER = "X-Trace-Id"

log = logging.getLogger("paygate.auth")


@web.middleware
async def trace_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    trace_id = header_text(request.headers.get(TRACE_HEADER)) or random_hex(16)
    trace_id = trace_id[:64]
    request[TRACE_ID] = trace_id
    structlog.contextvars.bind_contextvars(trace_id=trace_id)
    try:
        response = await handler(request)
    finally:
        structlog.contextvars.unbind_contextvars("trace_id")
    response.headers[TRACE_HEADER] = trace_id
    return response


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[CONTAINER].metrics()
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    started = time.perf_counter()
    response = await handler(request)
    metrics.requests.labels(request.method, route, str(response.status)).inc()
    metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
    return response


@web.middleware
async def address_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A path or query holding a control, zero-width or bidi-control character is refused (400
    INVALID_CHARACTERS) before anything reads it; the console's pages check theirs (and their
    forms) themselves, to answer with a page (gateway/console/auth.py). A body with a
    Content-Encoding (gzip, deflate, ...) is refused too (415 UNSUPPORTED_MEDIA_TYPE)."""
    if not request.path.startswith("/console"):
        check_address(request)
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if request.body_exists and encoding not in ("", "identity"):
        # aiohttp would inflate it while it is read (a body that was no gzip was a 500): no
        # caller, channel or browser needs it
        raise web.HTTPUnsupportedMediaType(reason="a compressed body is not accepted: send it uncompressed")
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/v1/"):
        return await _as_caller_app(request, handler)
    if request.path.startswith("/ops/"):
        return await _as_operator(request, handler)
    return await handler(request)


async def _as_caller_app(request: web.Request, handler: Handler) -> web.StreamResponse:
    """/v1: the body within its limit, then the app's signature, timestamp and nonce."""
    container = request.app[CONTAINER]
    settings = container.settings()
    limit = settings.limits.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return error_response(413, "PAYLOAD_TOO_LARGE", f"the body is larger than {limit} bytes")
    body = await request.read()
    request[RAW_BODY] = body
    try:
        request[APP_ID] = await authenticate(
            request.headers,
            request.method,
            request.path_qs,
            body,
            container.app_secrets(),
            container.nonces(),
            utcnow(),
            settings.auth.max_clock_skew_seconds,
        )
    except Unauthenticated as exc:
        # the caller's answer does not say whether the app id exists; the operators' log does
        claimed = header_text(request.headers.get("X-App-Id"))
        extra = {"auth_failure": exc.reason, "claimed_app_id": claimed}
        log.warning("caller authentication refused", extra=extra)
        return error_response(401, exc.code, exc.message, exc.field)
    structlog.contextvars.bind_contextvars(app_id=request[APP_ID])
    try:
        return await handler(request)
    finally:
        structlog.contextvars.unbind_contextvars("app_id")


async def _as_operator(request: web.Request, handler: Handler) -> web.StreamResponse:
    """/ops: an operator's API token as a bearer token (401 unless it is a live operator's),
    then the role the route needs (403 ROLE_REQUIRED), from gateway/http/ops_access.py."""
    operator = await request.app[CONTAINER].operators().authenticate_token(bearer_token(request))
    if operator is None:
        return error_response(
            401,
            "UNAUTHENTICATED",
            "an operator's API token is required: Authorization: Bearer <token> (paygate operators token)",
        )
    resource = request.match_info.route.resource
    permission = permission_for(request.method, resource.canonical if resource else request.path)
    if not operator.may(permission):
        role = role_needed(permission)
        return error_response(
            403,
            "ROLE_REQUIRED",
            f"this action needs the role {role.value!r}"
            f" ({operator.login} holds {', '.join(operator.role_names)})",
        )
    request[OPERATOR] = operator
    structlog.contextvars.bind_contextvars(operator=operator.login)
    try:
        return await handler(request)
    finally:
        structlog.contextvars.unbind_contextvars("operator")
