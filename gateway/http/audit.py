"""The audit log of /ops actions: one middleware records every action an operator takes (any
method but a read), with its outcome, and `GET /ops/audit` lists the records.

The record is written before the action runs (outcome `started`; when it cannot be written the
action is refused, 503 `AUDIT_UNAVAILABLE`) and given its outcome once the answer is known
(core/usecases/ops/audit_trail.py; the console's actions are recorded so too): who (login, and
the role the route needs), what (the route's action, its subject), the outcome (`ok`,
`proposed` for a maker-checker proposal, `refused:<CODE>`, `error`; `started` when the process
stopped during the action), the reason or note the operator gave, the request's trace id and
the client's address.
"""

from __future__ import annotations

import logging

from aiohttp import web

from core.approvals.model import STARTED, AuditEntry
from core.errors import DomainError
from core.ids import new_id, utcnow
from core.operators.model import Operator, role_needed
from core.usecases.ops.audit_trail import AuditTrail
from gateway.http.errors import Handler
from gateway.http.ops_access import READ_METHODS, permission_for
from gateway.http.request_body import load_json
from gateway.keys import CONTAINER, OPERATOR, RAW_BODY, TRACE_ID

log = logging.getLogger("paygate.audit")
# how an answer that is a maker-checker proposal reads (core/usecases/ops/views.approval_view)
PROPOSAL_MARK = '"object": "approval"'
# a confirmation's answer is its approval too (202, executing): the operator's action is done
CONFIRMED_MARK = '"status": "executing"'


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    operator = request.get(OPERATOR)
    if operator is None or request.method in READ_METHODS:
        return await handler(request)
    trail = AuditTrail(request.app[CONTAINER].audit_log(), audit_entry(request))
    await trail.begin()  # AuditUnavailable (503) when it cannot be written: no record, no action
    try:
        response = await handler(request)
    except DomainError as exc:
        await trail.end(f"refused:{exc.code}", _note_of(request))
        raise
    except ValueError:  # a body the parser refused (pydantic's ValidationError, bad JSON): a 400
        await trail.end("refused:INVALID_ARGUMENT", _note_of(request))
        raise
    except BaseException:  # an error, or the request cancelled: the action's end is not known
        await trail.end("error", _note_of(request))
        raise
    text = _text(response)
    proposal = response.status == 202 and PROPOSAL_MARK in text and CONFIRMED_MARK not in text
    outcome = "proposed" if proposal else "ok"
    await trail.end(outcome if response.status < 400 else f"refused:{response.status}", _note_of(request))
    return response


def _text(response: web.StreamResponse) -> str:
    body = getattr(response, "text", None)
    return body if isinstance(body, str) else ""


def audit_entry(request: web.Request) -> AuditEntry:
    """What the audit log keeps of this request to an /ops route."""
    resource = request.match_info.route.resource
    return operator_action(
        request,
        request[OPERATOR],
        request.method,
        resource.canonical if resource else request.path,
        {name: request.match_info[name] for name in request.match_info},
    )


def operator_action(
    request: web.Request,
    operator: Operator,
    method: str,
    template: str,
    values: dict[str, str],
    note: str | None = None,
) -> AuditEntry:
    """The record of `operator` taking the /ops action `method template` in `request` (its
    path parameters in `values`; the console names the /ops route its action stands for)."""
    parts = [p for p in template.removeprefix("/ops/").split("/") if p != "{id}"]
    action = "/".join(values.get(p[1:-1], p) if p.startswith("{") else p for p in parts)
    return AuditEntry(
        id=new_id("aud"),
        at=utcnow(),
        operator=operator.login,
        role=role_needed(permission_for(method, template)).value,
        action=action[:64],
        subject_type=parts[0] if parts else None,
        subject_id=values.get("id"),
        outcome=STARTED,
        note=note,  # an /ops body is read by the handler: its note is written with the outcome
        trace_id=request.get(TRACE_ID),
        client=(request.remote or "")[:64] or None,
    )


def _note_of(request: web.Request) -> str | None:
    """The reason or note the body gives (as the handler read it)."""
    raw = request.get(RAW_BODY)
    if not raw:
        return None
    try:
        body = load_json(raw)
    except (ValueError, DomainError):
        return None
    if not isinstance(body, dict):  # e.g. a body the handler refused
        return None
    return note_of(body)


def note_of(said: dict[str, object]) -> str | None:
    """The audit note of what an operator said: the decision, reason, note and evidence given."""
    parts = [f"{k}: {said[k]}" for k in ("decision", "reason", "note", "evidence") if said.get(k)]
    return "; ".join(parts)[:2000] or None
