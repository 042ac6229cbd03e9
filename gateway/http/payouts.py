"""Payout routes: batch applications from caller apps, finance review, results, the report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.approvals.model import Approval
from core.errors import InvalidArgument
from core.payouts.items import PayoutItemBody
from core.payouts.report import ReportQuery
from core.usecases.ops.views import approval_view
from core.usecases.payouts.intake import PayoutBatch
from core.usecases.payouts.views import batch_view, payout_view, report_csv, report_view
from gateway.http.errors import body_of
from gateway.http.request_body import parse_body
from gateway.http.schemas.answers_ops import PayoutOrProposal
from gateway.http.schemas.answers_workflows import (
    BatchAnswer,
    PayoutAnswer,
    PayoutFlow,
    PayoutReportAnswer,
)
from gateway.http.schemas.payouts import ApproveBody, PayoutBatchBody, RejectBody
from gateway.keys import CONTAINER, TRACE_ID, app_id_of, operator_of
from gateway.maker_checker import approve_or_propose

if TYPE_CHECKING:
    from gateway.http.routes import Route


def _services(request: web.Request) -> Any:
    return request.app[CONTAINER]


# -- caller routes ---------------------------------------------------------------------------
async def create_payouts(request: web.Request) -> web.Response:
    body = await parse_body(request, PayoutBatchBody)
    app_id = app_id_of(request)
    if body.project_auth_id is not None and body.project_auth_id != app_id:
        raise InvalidArgument(
            "project_auth_id must be the app id the request is signed with", field="project_auth_id"
        )
    batch = PayoutBatch(
        app_id=app_id,
        trace_id=body.trace_id or request.get(TRACE_ID),
        items=body.items,
        source_platform=body.source_platform,
    )
    outcomes = await _services(request).payouts().apply(batch)
    return body_of(batch_view(batch.trace_id, outcomes))


async def get_payout(request: web.Request) -> web.Response:
    payout = await _services(request).payouts().get(request.match_info["id"], app_id_of(request))
    return body_of(payout_view(payout))


async def find_payout(request: web.Request) -> web.Response:
    serial_no = request.query.get("serial_no")
    if not serial_no:
        raise InvalidArgument("give ?serial_no=... to look a payout up", field="serial_no")
    payout = await _services(request).payouts().by_serial_no(app_id_of(request), serial_no)
    return body_of(payout_view(payout))


async def payout_flow(request: web.Request) -> web.Response:
    container = _services(request)
    payout = await container.payouts().get(request.match_info["id"], app_id_of(request))
    await container.flow().flush()
    reader = container.flow_reader()
    records = await reader.timeline(payout.id)
    if payout.payment_id:
        records += await reader.timeline(payout.payment_id)
    records.sort(key=lambda r: r["at"])  # the payout's nodes and its payment's, in time order
    return body_of({"payout_id": payout.id, "payment_id": payout.payment_id, "flow": records})


# -- operator routes -------------------------------------------------------------------------
async def ops_get_payout(request: web.Request) -> web.Response:
    return body_of(payout_view(await _services(request).payouts().get(request.match_info["id"])))


async def approve_payout(request: web.Request) -> web.Response:
    body = await parse_body(request, ApproveBody)
    services = _services(request)
    decided = await approve_or_propose(
        services.payouts(),
        services.approvals(),
        services.settings().ops.maker_checker.payout_approval_over,
        request.match_info["id"],
        operator_of(request),  # the recorded reviewer: body.reviewer is not trusted
        body.note,
    )
    if isinstance(decided, Approval):
        return body_of(approval_view(decided), status=202)
    return body_of(payout_view(decided))


async def reject_payout(request: web.Request) -> web.Response:
    body = await parse_body(request, RejectBody)
    login = operator_of(request).login  # the recorded reviewer: body.reviewer is not trusted
    payout = (
        await _services(request)
        .payouts()
        .reject(request.match_info["id"], reviewer=login, reason=body.reason, operator=login)
    )
    return body_of(payout_view(payout))


async def payout_report(request: web.Request) -> web.Response:
    q = request.query
    query = ReportQuery.parse(q.get("from"), q.get("to"), q.get("group_by"), q.get("app_id"))
    output = q.get("format", "json")
    if output not in ("json", "csv"):
        raise InvalidArgument("format must be json or csv", field="format")
    report = await _services(request).payout_queries().report(query)
    if output == "csv":
        return web.Response(
            text=report_csv(report),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="payouts.csv"'},
        )
    return body_of(report_view(report))


def payout_routes() -> tuple[Route, ...]:
    """The payout rows of the route table (Route is imported here, when the table is built,
    so that routes.py can import this module without a cycle)."""
    from gateway.http.routes import Query, Route

    app_id = Query("app_id", {"type": "string"}, "only this caller app's payouts")
    day = {"type": "string", "format": "date"}
    return (
        Route(
            "POST",
            "/v1/payouts",
            create_payouts,
            "Apply for payouts in a batch; each item is accepted or rejected on its own "
            "(idempotent per serial_no)",
            PayoutBatchBody,
            "app",
            models=(PayoutItemBody,),
            response=BatchAnswer,
        ),
        Route(
            "GET",
            "/v1/payouts/{id}",
            get_payout,
            "A payout with its review and result",
            None,
            "app",
            response=PayoutAnswer,
        ),
        Route(
            "GET",
            "/v1/payouts/{id}/flow",
            payout_flow,
            "The payout's flow-log timeline, with its payment's",
            None,
            "app",
            response=PayoutFlow,
        ),
        Route(
            "GET", "/ops/payouts/{id}", ops_get_payout, "Any app's payout", None, "ops", response=PayoutAnswer
        ),
        Route(
            "POST",
            "/ops/payouts/{id}/approve",
            approve_payout,
            "Finance approves a payout, which is then paid (approving again is harmless); over "
            "ops.maker_checker.payout_approval_over: a proposal a second finance operator confirms (202)",
            ApproveBody,
            "ops",
            ok=(200, 202),
            response=PayoutOrProposal,
        ),
        Route(
            "POST",
            "/ops/payouts/{id}/reject",
            reject_payout,
            "Finance rejects a payout waiting for review, with a reason",
            RejectBody,
            "ops",
            response=PayoutAnswer,
        ),
        Route(
            "GET",
            "/ops/reports/payouts",
            payout_report,
            "Counts and amounts of payouts ?from=&to= (YYYY-MM-DD), "
            "?group_by=platform,type,pay_method,status,day, ?format=csv",
            None,
            "ops",
            query=(
                Query("from", day, "the first day (UTC), included"),
                Query("to", day, "the last day (UTC), included"),
                Query(
                    "group_by", {"type": "string"}, "comma-separated: platform, type, pay_method, status, day"
                ),
                app_id,
                Query("format", {"enum": ["json", "csv"]}, "default json"),
            ),
            answers=("application/json", "text/csv"),
            response=PayoutReportAnswer,
        ),
    )
