"""The console's maker-checker pages, through the same use cases as /ops: proposing the outcome
of an escalated payment (stored `checking`: the approvals worker queries the channel, no page
waits on it), and the approvals page, where a second operator confirms or rejects the pending
proposals (never their own: the use case refuses it) and everyone sees where each one is."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.approvals.model import ApprovalAction
from core.errors import DomainError
from core.usecases.ops.views import approval_view
from gateway.console.actions import form_text
from gateway.console.audit import audited
from gateway.console.auth import page, render, visit_of
from gateway.console.outcomes import done, refused
from gateway.keys import CONTAINER
from gateway.maker_checker import propose_resolution
from gateway.storage.queries.ops_lists import ApprovalFilter
from gateway.storage.queries.pages import PageRequest

RESOLVE = "/ops/payments/{id}/resolve"
CONFIRM, REJECT = "/ops/approvals/{id}/confirm", "/ops/approvals/{id}/reject"
DECISIONS = ("succeeded", "failed")
QUEUE = "/console/approvals"


def _outcome(result: dict[str, Any], back: str) -> dict[str, Any]:
    return {"results": [result], "back": back}


@page(RESOLVE)
async def resolve(request: web.Request) -> web.StreamResponse:
    """Propose the outcome of an escalated payment, with its evidence; a second operator confirms."""
    payment_id = request.match_info["id"]
    form = await request.post()
    decision, evidence = form_text(form, "decision", 16), form_text(form, "evidence", 2000)
    back = f"/console/payments/{payment_id}"
    if decision not in DECISIONS or not evidence:
        return render(request, "message.html", {"message": "evidence_required"}, status=400)
    container = request.app[CONTAINER]
    note = form_text(form, "note", 1000) or None
    proposal = {"decision": decision, "evidence": evidence}
    try:
        await audited(
            request,
            RESOLVE,
            {"id": payment_id},
            lambda: propose_resolution(
                container.operator_resolution(),
                container.approvals(),
                payment_id,
                proposal,
                visit_of(request).operator,
                note,
            ),
            said={**proposal, "note": note},
            outcome_of=lambda _: "proposed",
        )
    except DomainError as exc:
        failed = _outcome(refused(payment_id, exc), back)
        return render(request, "results.html", failed, status=exc.http_status)
    return render(request, "results.html", _outcome(done(payment_id, "checking"), QUEUE))


@page("/ops/approvals", method="GET")
async def approval_queue(request: web.Request) -> web.StreamResponse:
    """Every proposal, newest first, with its state (checking and executing: the approvals worker
    is at the channel; reload to follow); buttons on the pending ones."""
    container = request.app[CONTAINER]
    items, has_more = await container.ops_lists().approvals(
        ApprovalFilter(status=None), PageRequest(limit=100)
    )
    views = [approval_view(a) for a in items]
    # buttons only for who may decide some proposal (each decision is checked again on its own)
    can = any(visit_of(request).may(action.permission) for action in ApprovalAction)
    return render(request, "approvals.html", {"items": views, "has_more": has_more, "can": can})


@page(CONFIRM)
async def confirm(request: web.Request) -> web.StreamResponse:
    return await _decide(request, reject=False)


@page(REJECT)
async def reject(request: web.Request) -> web.StreamResponse:
    return await _decide(request, reject=True)


async def _decide(request: web.Request, *, reject: bool) -> web.StreamResponse:
    approval_id = request.match_info["id"]
    form = await request.post()
    reason = form_text(form, "reason", 256)
    if reject and not reason:
        return render(request, "message.html", {"message": "reason_required"}, status=400)
    approvals, operator = request.app[CONTAINER].approvals(), visit_of(request).operator
    try:
        decided = await audited(
            request,
            REJECT if reject else CONFIRM,
            {"id": approval_id},
            lambda: (
                approvals.reject(approval_id, operator, reason)
                if reject
                else approvals.confirm(approval_id, operator)
            ),
            said={"reason": reason},
        )
    except DomainError as exc:
        failed = _outcome(refused(approval_id, exc), QUEUE)
        return render(request, "results.html", failed, status=exc.http_status)
    return render(request, "results.html", _outcome(done(approval_id, decided.status.value), QUEUE))
