"""Error bodies: `{"error": {"code", "message", "field"}}` for every 4xx and 5xx."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from core.errors import DomainError
from gateway.keys import TRACE_ID
from gateway.storage.engine import NoDatabaseConnection

log = logging.getLogger("paygate.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "BUSINESS_RULE_VIOLATION",
    429: "TOO_MANY_REQUESTS",
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "field": field}}
    return web.json_response(body, status=status, headers=headers)


# pydantic error types of the body field types (gateway.http.schemas.base) -> stable codes
VALIDATION_CODES = {"invalid_amount": "INVALID_AMOUNT", "unsupported_currency": "UNSUPPORTED_CURRENCY"}


def validation_error(exc: ValidationError) -> web.Response:
    first = exc.errors()[0]
    field = field_path(first["loc"]) or None
    if first["type"] == "json_invalid":
        return error_response(400, "INVALID_JSON", "the body is not valid JSON", None)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing":
        message = "this field is required"
    code = VALIDATION_CODES.get(first["type"], "INVALID_ARGUMENT")
    return error_response(400, code, f"{field}: {message}" if field else message, field)


def field_path(loc: tuple[int | str, ...]) -> str:
    """("items", 0, "amount") -> "items[0].amount", as the body parser names fields."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        return error_response(exc.http_status, exc.code, exc.message, exc.field)
    except ValidationError as exc:
        return validation_error(exc)
    except json.JSONDecodeError:
        return error_response(400, "INVALID_JSON", "the body is not valid JSON")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_CODES.get(exc.status, "HTTP_ERROR")
        return error_response(exc.status, code, exc.reason or code, headers=_keep_allow(exc))
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("database unavailable", extra={"path": request.path, "error": repr(exc)[:300]})
            return error_response(
                503,
                "DATABASE_UNAVAILABLE",
                "the database could not answer in time: repeat the same request (the same "
                "out_request_no answers with what was stored; nothing is done twice)",
                headers={"Retry-After": "1"},
            )
        log.exception("unhandled error", extra={"path": request.path})
        trace = request.get(TRACE_ID, "")
        return error_response(500, "INTERNAL", f"internal error; quote trace id {trace} to support")


# What a database says when it cannot answer now, not that the request is wrong: a statement
# cancelled (statement_timeout, lock_timeout), a server refusing or dropping connections, the
# pool's wait for a connection ended, SQLite's writer busy. A socket's refusal or timeout counts
# only raised by the database's driver (a channel's is the use case's to handle).
_UNAVAILABLE_DATABASE = (
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    sa_exc.TimeoutError,
    NoDatabaseConnection,
)
# A server that shuts down (a restart, a failover) sends every idle connection a FATAL error and
# then closes it. asyncpg reads that error as unexpected in its idle state and waits, in state 2
# (consuming an error), for the end of the connection, which it reads a moment later; a checkout
# in that moment hands out a connection that is not seen closed yet, and its first operation is
# refused before anything is sent: "cannot switch to state 12; another operation (2) is in
# progress". Our own code using one connection twice at once shows another state than 2: a bug.
_SAID_GOODBYE = "another operation (2) is in progress"
_DATABASE_ERRORS = (
    sa_exc.SQLAlchemyError,
    asyncpg.exceptions.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) is a database that could not answer now."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:  # SQLAlchemy wraps the driver's error
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(isinstance(e, _UNAVAILABLE_DATABASE) for e in chain):
        return True
    if any(isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated for e in chain):
        return True  # SQLAlchemy saw the connection lost
    if any(isinstance(e, asyncpg.InterfaceError) and "connection is closed" in str(e) for e in chain):
        return True  # the raw driver's, on a connection dropped while checked out
    if any(isinstance(e, asyncpg.exceptions.InternalClientError) and _SAID_GOODBYE in str(e) for e in chain):
        return True  # a pooled connection the server had just told it was closing (see above)
    if any(isinstance(e, sqlite3.OperationalError) and "locked" in str(e) for e in chain):
        return True
    socket = any(isinstance(e, ConnectionError | TimeoutError) for e in chain)
    return socket and any(isinstance(e, _DATABASE_ERRORS) for e in chain)


def _keep_allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow") if exc.headers else None
    return {"Allow": allow} if allow else None


def body_of(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)
