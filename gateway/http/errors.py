"""Error bodies: `{"error": {"code", "message", "field"}}` for every 4xx and 5xx."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from core.errors import DomainError
from gateway.keys import TRACE_ID

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
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        trace = request.get(TRACE_ID, "")
        return error_response(500, "INTERNAL", f"internal error; quote trace id {trace} to support")


def _keep_allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow") if exc.headers else None
    return {"Allow": allow} if allow else None


def body_of(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)
