"""Who may see a console page: the `page` wrapper finds the session (else: to the login page),
loads the operator afresh (a disabled operator is logged out), checks the CSRF token of a POST,
then the permission the page needs, from the same role table as /ops (403 otherwise)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from core.errors import DomainError
from core.operators.model import Operator, Permission
from gateway.console.cookie import session_id_of
from gateway.console.csrf import UNREADABLE_FORM, csrf_ok, posted_form
from gateway.console.i18n import error_key, language_of, translator
from gateway.console.session import Session, SessionStore
from gateway.http.ops_access import permission_for
from gateway.http.request_body import check_address, check_form, header_text
from gateway.keys import CONTAINER, TRACE_ID

log = logging.getLogger("paygate.console")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSIONS: web.AppKey[SessionStore] = web.AppKey("console_sessions")


@dataclass(frozen=True)
class Visit:
    """The logged-in operator's request: their session, identity and language."""

    session: Session
    operator: Operator
    lang: str

    def may(self, permission: Permission) -> bool:
        return self.operator.may(permission)

    def may_call(self, method: str, ops_route: str) -> bool:
        """Whether the /ops route's entry in the role table lets this operator call it."""
        return self.operator.may(permission_for(method, ops_route))


VISIT: web.RequestKey[Visit] = web.RequestKey("console_visit", Visit)


def visit_of(request: web.Request) -> Visit:
    return request[VISIT]


def page(ops_route: str | None = None, method: str | None = None) -> Callable[[Handler], Handler]:
    """A console handler behind login; `ops_route` names the /ops route (with `method`, else
    the request's) whose role-table entry the page needs; None: any logged-in operator."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            visit = await _visit(request)
            if visit is None:
                raise web.HTTPSeeOther(_login_url(request))
            request[VISIT] = visit
            form = None
            if request.method == "POST":
                form = await posted_form(request)
                if form is None:
                    return unreadable_form(request)
                if not csrf_ok(form, visit.session):
                    return render(request, "message.html", {"message": "csrf_refused"}, status=403)
            if ops_route is not None and not visit.may_call(method or request.method, ops_route):
                return render(request, "message.html", {"message": "forbidden"}, status=403)
            try:
                check_address(request)
                if form is not None:
                    check_form(form)
                return await handler(request)
            except DomainError as exc:
                context = {"message": error_key(exc.code, exc.http_status), "detail": exc.message}
                return render(request, "message.html", context, status=exc.http_status)
            except web.HTTPException:
                raise  # a redirect
            except Exception:
                # a console page, not the API's JSON: the trace id to quote, the rest in the log
                log.exception("console page failed", extra={"path": request.path})
                detail = f"trace id {request.get(TRACE_ID, '')}"
                return render(request, "message.html", {"message": "internal", "detail": detail}, status=500)

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return wrap


def _login_url(request: web.Request) -> str:
    """The login page, then back to this page (its query kept), or for a form posted after the
    session ended, to the page the form was on (the form's address is no page); it says the
    session ended when the browser still held one."""
    target = request.rel_url.path_qs if request.method == "GET" else came_from(request)
    query = {"next": target, **({"expired": "1"} if session_id_of(request) else {})}
    return str(URL("/console/login").with_query(query))


async def _visit(request: web.Request) -> Visit | None:
    store, session_id = request.app[SESSIONS], session_id_of(request)
    session = await store.find(session_id)
    if session is None or session_id is None:
        return None
    operator = await request.app[CONTAINER].operators().get(session.login)
    if operator is None or operator.disabled:
        await store.end(session_id)
        return None
    asked = request.query.get("lang")
    if asked is not None and language_of(asked) != session.lang:
        session = replace(session, lang=language_of(asked))
        await store.set_lang(session_id, language_of(asked))
    return Visit(session, operator, language_of(session.lang))


def unreadable_form(request: web.Request) -> web.Response:
    """The page answering a POST whose body is no form (400)."""
    context = {"message": error_key("INVALID_ARGUMENT", 400), "detail": UNREADABLE_FORM}
    return render(request, "message.html", context, status=400)


def came_from(request: web.Request) -> str:
    """The console page the browser was on (its Referer, when that is a console page of this
    site), else the dashboard: where a message page's link leads back to."""
    try:
        referer = URL(header_text(request.headers.get("Referer")))
        same_site = referer.host == request.url.host and referer.port == request.url.port
    except ValueError:  # no address at all ("http://[bad", a port beyond 65535)
        return "/console"
    if same_site and referer.path.startswith("/console") and not referer.path.startswith("/console/login"):
        return referer.path_qs
    return "/console"


def _other_language(request: web.Request, lang: str) -> str:
    """This page in the other language, its filters kept (after a form: the page it was on)."""
    here = request.rel_url if request.method == "GET" else URL(came_from(request))
    return str(here.update_query(lang="en" if lang == "zh" else "zh"))


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """A page in the visitor's language, with what every page's frame needs."""
    visit = request.get(VISIT)
    lang = visit.lang if visit else language_of(request.query.get("lang"))
    frame = {"t": translator(lang), "lang": lang, "visit": visit, "path": request.rel_url.path,
             "came_from": came_from(request), "other_lang": _other_language(request, lang)}  # fmt: skip
    response = aiohttp_jinja2.render_template(template, request, {**frame, **context}, status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:"
    return response
