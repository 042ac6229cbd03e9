"""HTTP handlers of maker-checker: resolving an escalated payment (a proposal), the approvals'
list, confirm and reject, and the audit log's list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.approvals.model import ApprovalAction, ApprovalStatus
from core.usecases.ops.views import approval_view, audit_view
from gateway.http.errors import body_of
from gateway.http.listing import (
    choice_query,
    created_window,
    list_answer,
    page_queries,
    page_request,
    text_query,
)
from gateway.http.params import services
from gateway.http.request_body import parse_body
from gateway.http.schemas.answers_ops import ApprovalAnswer, ApprovalList, AuditList
from gateway.http.schemas.ops import ApprovalRejectBody, ResolveBody
from gateway.keys import operator_of
from gateway.maker_checker import propose_resolution
from gateway.storage.queries.ops_lists import ApprovalFilter, AuditFilter

if TYPE_CHECKING:
    from gateway.http.routes import Route

APPROVAL_STATUSES = [s.value for s in ApprovalStatus]
APPROVAL_ACTIONS = [a.value for a in ApprovalAction]


async def resolve_payment(request: web.Request) -> web.Response:
    """Propose the outcome of an escalated payment: stored `checking` (202) at once; the approvals
    worker queries the channel, then it is `pending` for a second operator (or `closed`)."""
    body = await parse_body(request, ResolveBody)
    container = services(request)
    approval = await propose_resolution(
        container.operator_resolution(),
        container.approvals(),
        request.match_info["id"],
        {"decision": body.decision, "evidence": body.evidence},
        operator_of(request),
        body.note,
    )
    return body_of(approval_view(approval), status=202)


async def proposed(
    request: web.Request,
    action: ApprovalAction,
    subject_type: str,
    subject_id: str,
    payload: dict[str, Any],
    note: str | None = None,
) -> web.Response:
    """The answer of an action that needs a second operator: its proposal (202)."""
    approval = (
        await services(request)
        .approvals()
        .propose(action, subject_type, subject_id, payload, operator_of(request), note=note)
    )
    return body_of(approval_view(approval), status=202)


async def get_approval(request: web.Request) -> web.Response:
    approval = await services(request).approvals().get(request.match_info["id"])
    return body_of(approval_view(approval))


async def confirm_approval(request: web.Request) -> web.Response:
    """Claim the proposal (pending → executing, 202); the approvals worker runs its action."""
    approval = await services(request).approvals().confirm(request.match_info["id"], operator_of(request))
    return body_of(approval_view(approval), status=202)


async def reject_approval(request: web.Request) -> web.Response:
    body = await parse_body(request, ApprovalRejectBody)
    approvals = services(request).approvals()
    approval = await approvals.reject(request.match_info["id"], operator_of(request), body.reason)
    return body_of(approval_view(approval))


async def list_approvals(request: web.Request) -> web.Response:
    status = choice_query(request, "status", [*APPROVAL_STATUSES, "any"]) or "pending"
    f = ApprovalFilter(
        status=None if status == "any" else status,
        action=choice_query(request, "action", APPROVAL_ACTIONS),
        subject_id=text_query(request, "subject_id"),
        **created_window(request),
    )
    items, has_more = await services(request).ops_lists().approvals(f, page_request(request))
    return list_answer([approval_view(a) for a in items], has_more)


async def list_audit(request: web.Request) -> web.Response:
    f = AuditFilter(
        operator=text_query(request, "operator"),
        action=text_query(request, "action"),
        subject_type=text_query(request, "subject_type"),
        subject_id=text_query(request, "subject_id"),
        **created_window(request),
    )
    items, has_more = await services(request).ops_lists().audit(f, page_request(request))
    return list_answer([audit_view(e) for e in items], has_more)


def approval_routes() -> tuple[Route, ...]:
    from gateway.http.routes import Query, Route

    text = {"type": "string", "minLength": 1, "maxLength": 128}
    return (
        Route(
            "POST",
            "/ops/payments/{id}/resolve",
            resolve_payment,
            "Propose the outcome of an escalated unknown payment: 202 checking; the approvals worker"
            " queries the channel, then it is pending for a second operator (poll GET /ops/approvals/{id})",
            ResolveBody,
            "ops",
            ok=(202,),
            errors=(409,),
            response=ApprovalAnswer,
        ),
        Route(
            "GET",
            "/ops/approvals",
            list_approvals,
            "Maker-checker proposals, newest first (pending unless ?status)",
            None,
            "ops",
            query=(
                Query("status", {"type": "string", "enum": [*APPROVAL_STATUSES, "any"]}, "default pending"),
                Query("action", {"type": "string", "enum": APPROVAL_ACTIONS}),
                Query("subject_id", text),
                *page_queries(),
            ),
            response=ApprovalList,
        ),
        Route(
            "GET", "/ops/approvals/{id}", get_approval, "One proposal", None, "ops", response=ApprovalAnswer
        ),
        Route(
            "POST",
            "/ops/approvals/{id}/confirm",
            confirm_approval,
            "Confirm another operator's proposal: 202 executing; the approvals worker runs its action,"
            " once, and the approval ends confirmed or closed (poll GET /ops/approvals/{id})",
            None,
            "ops",
            ok=(202,),
            errors=(403, 409),
            response=ApprovalAnswer,
        ),
        Route(
            "POST",
            "/ops/approvals/{id}/reject",
            reject_approval,
            "Refuse a proposal (reason required)",
            ApprovalRejectBody,
            "ops",
            errors=(403, 409),
            response=ApprovalAnswer,
        ),
        Route(
            "GET",
            "/ops/audit",
            list_audit,
            "The audit log of operators' actions, newest first",
            None,
            "ops",
            query=(
                Query("operator", text, "the acting operator's login"),
                Query("action", text, "e.g. payouts/approve, payments/resolve, approvals/confirm"),
                Query("subject_type", text),
                Query("subject_id", text),
                *page_queries(),
            ),
            response=AuditList,
        ),
    )
