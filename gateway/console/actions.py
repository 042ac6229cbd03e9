"""The console's actions, through the same use cases as /ops, recorded under the operator's
login: payout review (one by one and in bulk; a rejection needs a reason), bill error handling
(only the bill's allowed actions, after a confirm step with a reason), replaying a webhook."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.approvals.model import Approval
from core.bills.actions import ErrorAction
from core.bills.model import Bill
from core.errors import DomainError, InvalidArgument
from core.payouts.model import Payout
from core.usecases.bills.views import ops_bill_view
from gateway.console.audit import audited
from gateway.console.auth import page, render, visit_of
from gateway.console.i18n import error_key
from gateway.console.lists import ops_list
from gateway.console.outcomes import done, refused
from gateway.keys import CONTAINER
from gateway.maker_checker import approve_or_propose

APPROVE, REJECT = "/ops/payouts/{id}/approve", "/ops/payouts/{id}/reject"
BILL_ACTION = "/ops/bills/{id}/actions/{action}"
REPLAY = "/ops/notifications/{id}/replay"


def form_text(form: Any, name: str, limit: int = 256) -> str:
    """A form field as text, trimmed and cut to `limit` characters (every console form reads so)."""
    return str(form.get(name, "")).strip()[:limit]


@page(APPROVE, method="GET")
async def review_queue(request: web.Request) -> web.StreamResponse:
    """The payouts waiting for review, oldest last, with checkboxes for a bulk decision."""
    query = {"status": "pending_review", "limit": "100"}
    answer = await ops_list(request, "payouts", query)
    return render(request, "review.html", {"items": answer["data"], "has_more": answer["has_more"]})


async def _review(request: web.Request, payout_id: str, decision: str, reason: str) -> dict[str, Any]:
    """One payout's decision, by the same way as /ops: a large approval is only proposed (it
    waits for a second finance operator, as `ops.maker_checker` says)."""
    operator = visit_of(request).operator
    container = request.app[CONTAINER]

    async def decide() -> Payout | Approval:
        if decision == "approve":
            over = container.settings().ops.maker_checker.payout_approval_over
            return await approve_or_propose(
                container.payouts(), container.approvals(), over, payout_id, operator, reason or None
            )
        return await container.payouts().reject(
            payout_id, reviewer=operator.login, reason=reason, operator=operator.login
        )

    route = APPROVE if decision == "approve" else REJECT
    try:
        decided = await audited(
            request, route, {"id": payout_id}, decide, said={"reason": reason}, outcome_of=_proposed_or_ok
        )
    except DomainError as exc:
        return refused(payout_id, exc)
    if isinstance(decided, Approval):
        return done(payout_id, "proposed")
    return done(payout_id, decided.status.value)


def _proposed_or_ok(decided: object) -> str:
    return "proposed" if isinstance(decided, Approval) else "ok"


@page(APPROVE)
async def review(request: web.Request) -> web.StreamResponse:
    """Approve or reject the payouts ticked (or the one of the row's button)."""
    form = await request.post()
    decision = form_text(form, "decision")
    if decision not in ("approve", "reject"):
        raise InvalidArgument("decision must be approve or reject", field="decision")
    reason = form_text(form, "reason")
    if decision == "reject" and not reason:
        return render(request, "message.html", {"message": "reason_required"}, status=400)
    ids = [str(v) for v in form.getall("payout_id", [])][:100]
    if not ids:
        return render(request, "message.html", {"message": "nothing_selected"}, status=400)
    results = [await _review(request, payout_id, decision, reason) for payout_id in ids]
    return render(request, "results.html", {"results": results, "back": "/console/payouts/review"})


def _bill_action(request: web.Request) -> ErrorAction:
    try:
        return ErrorAction(request.match_info["action"])
    except ValueError:
        raise InvalidArgument("no such action", field="action") from None


@page(BILL_ACTION, method="POST")
async def bill_action_confirm(request: web.Request) -> web.StreamResponse:
    """The confirm step of a bill action: what will be done, and the reason to give."""
    action = _bill_action(request)
    bill = await request.app[CONTAINER].bill_context().get(request.match_info["id"])
    return render(request, "bill_action.html", {"bill": ops_bill_view(bill), "action": action.value})


@page(BILL_ACTION)
async def bill_action(request: web.Request) -> web.StreamResponse:
    """The action, unless the bill changed since its confirm page was shown (`seen`: the bill's
    `updated_at` then; checked by the use case, on the locked row where the action moves the
    bill): another operator acted first, and this form is refused, not run again."""
    action = _bill_action(request)
    form = await request.post()
    reason = form_text(form, "reason") or None
    seen = form_text(form, "seen", 64)
    container = request.app[CONTAINER]
    bill_id = request.match_info["id"]

    async def act() -> Bill:
        login = visit_of(request).operator.login
        return await container.bill_actions().act(bill_id, action, login, reason, seen=seen or None)

    back = f"/console/bills/{bill_id}"
    try:
        await audited(
            request, BILL_ACTION, {"id": bill_id, "action": action.value}, act, said={"reason": reason}
        )
    except DomainError as exc:
        context = {"message": error_key(exc.code, exc.http_status), "detail": exc.message, "back": back}
        return render(request, "message.html", context, status=exc.http_status)
    raise web.HTTPSeeOther(f"{back}?done={action.value}")  # the bill's page says it was done


@page(REPLAY)
async def replay(request: web.Request) -> web.StreamResponse:
    event_id = request.match_info["id"]
    outbox = request.app[CONTAINER].outbox_admin()
    login = visit_of(request).operator.login
    back = "/console/notifications"
    try:  # the button is offered for a failing or dead webhook: a stale one queues nothing again
        item = await audited(
            request, REPLAY, {"id": event_id}, lambda: outbox.replay(event_id, login, stuck_only=True)
        )
    except DomainError as exc:
        failed = {"results": [refused(event_id, exc)], "back": back}
        return render(request, "results.html", failed, status=exc.http_status)
    return render(
        request, "results.html", {"results": [done(event_id, str(item.get("status", "")))], "back": back}
    )
