"""The console's actions in the audit log: each is recorded as the /ops action it stands for
(`payouts/approve`, `bills/actions/resend_bank`, `approvals/confirm` …), under the operator's
login, before it runs and with its outcome after (core/usecases/ops/audit_trail.py), so that
`GET /ops/audit` shows what was done through the console as it shows what was done through /ops."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from core.usecases.ops.audit_trail import AuditTrail, run_audited
from gateway.console.auth import visit_of
from gateway.http.audit import note_of, operator_action
from gateway.keys import CONTAINER

T = TypeVar("T")


async def audited(
    request: web.Request,
    ops_route: str,
    values: dict[str, str],
    action: Callable[[], Awaitable[T]],
    *,
    said: dict[str, object] | None = None,
    outcome_of: Callable[[T], str] = lambda _: "ok",
) -> T:
    """Run `action()` as the POST `ops_route` (path parameters in `values`, what the operator
    said in `said`), recorded in the audit log; AuditUnavailable when it cannot be."""
    entry = operator_action(
        request, visit_of(request).operator, "POST", ops_route, values, note_of(said or {})
    )
    return await run_audited(AuditTrail(request.app[CONTAINER].audit_log(), entry), action, outcome_of)
