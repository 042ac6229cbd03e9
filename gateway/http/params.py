"""Parts of a request the caller and operator handlers share: the container, whole-number query parameters."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.errors import InvalidArgument
from gateway.keys import CONTAINER


def services(request: web.Request) -> Any:
    return request.app[CONTAINER]


def int_query(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    # ASCII digits, and no more of them than `hi` has (a number of thousands of digits is more
    # than Python converts: that was a 500)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(hi)) or not lo <= int(raw) <= hi:
        raise InvalidArgument(f"{name} must be a whole number from {lo} to {hi}", field=name)
    return int(raw)
