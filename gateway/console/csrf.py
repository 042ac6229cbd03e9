"""CSRF protection of the console's forms: every POST carries the session's token in the
`csrf_token` field, compared in constant time; without it the POST is refused (403)."""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway.console.session import Session

FIELD = "csrf_token"


async def csrf_ok(request: web.Request, session: Session) -> bool:
    """Whether the posted form holds the session's CSRF token."""
    form = await request.post()
    given = form.get(FIELD)
    return isinstance(given, str) and hmac.compare_digest(given.encode(), session.csrf.encode())
