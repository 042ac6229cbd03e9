"""Login and logout: the password against the operators store, the login rate limit (per login
and per client address), then a fresh session id in the cookie."""

from __future__ import annotations

from aiohttp import web

from gateway.console.auth import SESSIONS, page, render, visit_of
from gateway.console.ratelimit import LoginLimiter
from gateway.console.session import COOKIE
from gateway.keys import CONTAINER

LIMITER: web.AppKey[LoginLimiter] = web.AppKey("console_login_limiter", LoginLimiter)


def _next_page(raw: object) -> str:
    """Where to go after logging in: a console path only (never another site)."""
    if isinstance(raw, str) and raw.startswith("/console") and "//" not in raw and "\\" not in raw:
        return raw
    return "/console"


async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": _next_page(request.query.get("next")), "failed": False})


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = str(form.get("login", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    target = _next_page(form.get("next"))
    keys = (f"login:{name}", f"addr:{request.remote}")
    limiter = request.app[LIMITER]
    if limiter.blocked(*keys):
        return render(request, "login.html", {"next": target, "failed": "too_many_logins"}, status=429)
    operator = await request.app[CONTAINER].operators().authenticate_password(name, password)
    if operator is None:
        limiter.failed(*keys)
        return render(request, "login.html", {"next": target, "failed": "login_failed"}, status=401)
    limiter.succeeded(keys[0])
    store = request.app[SESSIONS]
    store.end(request.cookies.get(COOKIE))  # a new id at every login: no session fixation
    session_id, session = store.start(operator.login)
    session.lang = request.query.get("lang")
    response = web.HTTPSeeOther(target)
    store.set_cookie(request, response, session_id)
    raise response


@page()
async def logout(request: web.Request) -> web.StreamResponse:
    visit_of(request)  # a logged-in POST with its CSRF token (checked by page)
    store = request.app[SESSIONS]
    store.end(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/console/login")
    store.clear_cookie(response)
    raise response
