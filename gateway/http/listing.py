"""Query parameters of the lists (Stripe's convention) and their answer: `limit` (1 to 100,
default 20), `starting_after` / `ending_before` (an item's id), the filters' values, and
`{"object": "list", "data": [...], "has_more": bool}`. A bad value is a 400 INVALID_ARGUMENT
whose `field` names the parameter and whose message says what to give instead."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from aiohttp import web

from core.errors import InvalidArgument
from gateway.http.errors import body_of
from gateway.http.params import int_query
from gateway.storage.queries.pages import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

if TYPE_CHECKING:
    from gateway.http.routes import Query

_BOOLEANS = {"true": True, "false": False}
# an RFC 3339 date-time (OpenAPI's format date-time): the offset is never left out
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")


class CreatedWindow(TypedDict):
    """The created-time filter every list takes, as its filter's keyword arguments."""

    created_from: datetime | None
    created_to: datetime | None


def page_request(request: web.Request) -> PageRequest:
    """The page a list request asks for."""
    limit = int_query(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    assert limit is not None
    after, before = text_query(request, "starting_after"), text_query(request, "ending_before")
    if after is not None and before is not None:
        raise InvalidArgument("give starting_after or ending_before, not both", field="ending_before")
    return PageRequest(limit, after, before)


def text_query(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw or len(raw) > 128:
        raise InvalidArgument(f"{name} must be 1 to 128 characters, or left out", field=name)
    return raw


def choice_query(request: web.Request, name: str, allowed: Iterable[str]) -> str | None:
    raw = request.query.get(name)
    choices = list(allowed)
    if raw is not None and raw not in choices:
        raise InvalidArgument(f"{name} must be one of {', '.join(choices)}", field=name)
    return raw


def bool_query(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is not None and raw not in _BOOLEANS:
        raise InvalidArgument(f"{name} must be true or false", field=name)
    return None if raw is None else _BOOLEANS[raw]


def time_query(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        if _DATE_TIME.fullmatch(raw):
            # in UTC now: a time whose UTC falls outside years 1-9999 is refused here, not later
            return datetime.fromisoformat(raw.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    raise InvalidArgument(
        f"{name} must be an RFC 3339 time with its offset, e.g. 2026-12-01T00:00:00Z "
        "or 2026-12-01T08:00:00%2B08:00 ('+' encoded in a URL)",
        field=name,
    )


def created_window(request: web.Request) -> CreatedWindow:
    """`created_from` (included) and `created_to` (excluded), as the filters' keyword arguments."""
    start, end = time_query(request, "created_from"), time_query(request, "created_to")
    if start is not None and end is not None and end <= start:
        raise InvalidArgument("created_to must be later than created_from", field="created_to")
    return CreatedWindow(created_from=start, created_to=end)


def list_answer(items: list[dict[str, Any]], has_more: bool) -> web.Response:
    return body_of({"object": "list", "data": items, "has_more": has_more})


def page_queries() -> tuple[Query, ...]:
    """How /openapi.json describes the paging and created-window parameters every list reads."""
    from gateway.http.routes import Query

    time = {"type": "string", "format": "date-time"}
    return (
        Query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            f"page size (default {DEFAULT_LIMIT})",
        ),
        Query(
            "starting_after",
            {"type": "string", "minLength": 1, "maxLength": 128},
            "the id of the last item of the page before: the next, older page",
        ),
        Query(
            "ending_before",
            {"type": "string", "minLength": 1, "maxLength": 128},
            "the id of the first item of the page after: the previous, newer page",
        ),
        Query("created_from", time, "created at or after this time (RFC 3339, with its offset)"),
        Query("created_to", time, "created before this time (RFC 3339, with its offset)"),
    )
