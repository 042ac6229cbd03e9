"""Parts of a request the caller and operator handlers share: the container, whole-number query parameters."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.errors import InvalidArgument
from gateway.http.request_body import plain_number
from gateway.keys import CONTAINER


def services(request: web.Request) -> Any:
    return request.app[CONTAINER]


def int_query(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    # no more digits than `hi` has (a number of thousands of digits was a 500)
    if not plain_number(raw, len(str(hi))) or not lo <= int(raw) <= hi:
        raise InvalidArgument(f"{name} must be a whole number from {lo} to {hi}", field=name)
    return int(raw)
