"""CSRF protection of the console's forms: every POST carries the session's token in the
`csrf_token` field, compared in constant time; without it the POST is refused (403). A posted
body that cannot be read as a form at all is refused before that (400)."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from multidict import MultiDictProxy

from gateway.console.session import Session

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]

FIELD = "csrf_token"
# what a console page says of a body that is no form its pages send
UNREADABLE_FORM = "the form could not be read: send it as application/x-www-form-urlencoded UTF-8"

log = logging.getLogger("paygate.console")


async def posted_form(request: web.Request) -> Form | None:
    """The posted form (aiohttp keeps it for later reads), or None when it cannot be read: a
    charset no codec knows, a multipart body without its boundary, a part that is no part."""
    try:
        return await request.post()
    except (ValueError, LookupError, AssertionError) as exc:  # UnicodeDecodeError is a ValueError
        log.info("console form unreadable", extra={"path": request.path, "error": repr(exc)[:200]})
        return None


def csrf_ok(form: Form, session: Session) -> bool:
    """Whether the posted form holds the session's CSRF token."""
    given = form.get(FIELD)
    return isinstance(given, str) and hmac.compare_digest(given.encode(), session.csrf.encode())
