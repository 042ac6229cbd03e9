"""Login and logout: the password against the operators store, the login rate limit (per login
and per client address), then a fresh session id in the cookie."""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from gateway.console.auth import SESSIONS, page, render, unreadable_form, visit_of
from gateway.console.cookie import SESSION_COOKIE, session_id_of
from gateway.console.csrf import posted_form
from gateway.console.i18n import language_of
from gateway.console.ratelimit import LoginLimiter
from gateway.http.request_body import REFUSED_CHARACTER, header_text
from gateway.keys import CONTAINER

LIMITER: web.AppKey[LoginLimiter] = web.AppKey("console_login_limiter", LoginLimiter)
# the login form's CSRF token (no session yet): a cookie the form must repeat (double submit)
LOGIN_COOKIE = "paygate_console_login"


def _next_page(raw: object) -> str:
    """Where to go after logging in: a console path only (never another site)."""
    if isinstance(raw, str) and raw.startswith("/console") and "//" not in raw and "\\" not in raw:
        return raw
    return "/console"


def _login_page(request: web.Request, target: str, failed: str | None, status: int = 200) -> web.Response:
    """The login form with a fresh CSRF token, in the form and in a cookie."""
    token = secrets.token_urlsafe(32)
    context = {"next": target, "failed": failed, "login_csrf": token}
    response = render(request, "login.html", context, status=status)
    secure = request.app[SESSION_COOKIE].secure_for(request)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/console")
    return response


async def login_form(request: web.Request) -> web.Response:
    ended = "session_ended" if request.query.get("expired") else None
    return _login_page(request, _next_page(request.query.get("next")), ended)


def _login_csrf_ok(request: web.Request, given: object) -> bool:
    expected = header_text(request.cookies.get(LOGIN_COOKIE))
    return (
        isinstance(given, str) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
    )


async def login(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    if form is None:
        return unreadable_form(request)
    name = str(form.get("login", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    target = _next_page(form.get("next"))
    if not _login_csrf_ok(request, form.get("csrf_token")):
        return _login_page(request, target, "csrf_refused", status=403)
    keys = (f"login:{name}", f"addr:{request.remote}")
    limiter = request.app[LIMITER]
    if limiter.blocked(*keys):
        return _login_page(request, target, "too_many_logins", status=429)
    # a login holding a control character names no operator (and is never looked up)
    operators = request.app[CONTAINER].operators()
    plain = REFUSED_CHARACTER.search(name) is None
    operator = await operators.authenticate_password(name, password) if plain else None
    if operator is None:
        limiter.failed(*keys)
        return _login_page(request, target, "login_failed", status=401)
    limiter.succeeded(keys[0])
    store = request.app[SESSIONS]
    await store.end(session_id_of(request))  # a new id at every login: no session fixation
    asked = request.query.get("lang")
    session_id, _ = await store.start(operator.login, None if asked is None else language_of(asked))
    response = web.HTTPSeeOther(target)
    request.app[SESSION_COOKIE].set(request, response, session_id)
    response.del_cookie(LOGIN_COOKIE, path="/console")
    raise response


@page()
async def logout(request: web.Request) -> web.StreamResponse:
    visit_of(request)  # a logged-in POST with its CSRF token (checked by page)
    store = request.app[SESSIONS]
    await store.end(session_id_of(request))
    response = web.HTTPSeeOther("/console/login")
    request.app[SESSION_COOKIE].clear(response)
    raise response


@page()
async def no_such_page(request: web.Request) -> web.StreamResponse:
    """A /console address that is no page (or a form's address opened as a page): a console
    page saying so (404), not the API's JSON error."""
    return render(request, "message.html", {"message": "no_such_page"}, status=404)
