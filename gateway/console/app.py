"""The console's routes, templates and static files, registered beside (not in) the JSON
route table, so /openapi.json describes the API only."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.console import actions, approvals, details, lists, login, report
from gateway.console.auth import SESSIONS
from gateway.console.cookie import SESSION_COOKIE, SessionCookie
from gateway.console.details import CONSOLE_QUERIES
from gateway.console.login import LIMITER
from gateway.console.ratelimit import LoginLimiter
from gateway.console.session import Expiry
from gateway.container import Container
from gateway.storage.console_sessions import SqlConsoleSessions
from gateway.storage.queries.console import ConsoleQueries

HERE = Path(__file__).parent


def setup_console(app: web.Application, container: Container) -> None:
    settings = container.settings().console
    app[SESSIONS] = SqlConsoleSessions(
        container.engine(), container.uow, Expiry.from_settings(settings), container.clock()
    )
    app[SESSION_COOKIE] = SessionCookie.from_settings(settings)
    app[LIMITER] = LoginLimiter(settings.login_failures, settings.login_window_seconds)
    app[CONSOLE_QUERIES] = ConsoleQueries(container.engine())
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    add = app.router.add_route
    add("GET", "/console", lists.dashboard)
    add("GET", "/console/login", login.login_form)
    add("POST", "/console/login", login.login)
    add("POST", "/console/logout", login.logout)
    add("GET", "/console/payouts/review", actions.review_queue)
    add("POST", "/console/payouts/review", actions.review)
    for name, show in lists.list_pages().items():
        add("GET", f"/console/{name}", show)
    add("GET", "/console/payments/{id}", details.payment_detail)
    add("GET", "/console/bills/{id}", details.bill_detail)
    add("GET", "/console/payouts/{id}", details.payout_detail)
    add("GET", "/console/lease_orders/{id}", details.lease_order_detail)
    add("GET", "/console/bills/{id}/actions/{action}", actions.bill_action_confirm)
    add("POST", "/console/bills/{id}/actions/{action}", actions.bill_action)
    add("POST", "/console/notifications/{id}/replay", actions.replay)
    add("POST", "/console/payments/{id}/resolve", approvals.resolve)
    add("GET", "/console/approvals", approvals.approval_queue)
    add("POST", "/console/approvals/{id}/confirm", approvals.confirm)
    add("POST", "/console/approvals/{id}/reject", approvals.reject)
    add("GET", "/console/report", report.report_page)
    add("GET", "/console/report.csv", report.report_export)
    add("GET", "/console/report/items.csv", report.report_items)
    app.router.add_static("/console/static", HERE / "static")
    # last: any other /console address (or a form's address opened as a page) answers a page
    add("*", "/console/{tail:.*}", login.no_such_page)
