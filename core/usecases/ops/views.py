"""How approvals and audit records are shown to operators (the one place of their answers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.approvals.model import Approval, AuditEntry


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def approval_view(a: Approval) -> dict[str, Any]:
    return {
        "object": "approval",
        "id": a.id,
        "action": a.action.value,
        "subject_type": a.subject_type,
        "subject_id": a.subject_id,
        "payload": a.payload,
        "status": a.status.value,
        "proposed_by": a.proposed_by,
        "proposed_at": _time(a.proposed_at),
        "note": a.note,
        "decided_by": a.decided_by,
        "decided_at": _time(a.decided_at),
        "reason": a.reason,
        "result": a.result,
    }


def audit_view(e: AuditEntry) -> dict[str, Any]:
    return {
        "object": "audit_entry",
        "id": e.id,
        "at": _time(e.at),
        "operator": e.operator,
        "role": e.role,
        "action": e.action,
        "subject_type": e.subject_type,
        "subject_id": e.subject_id,
        "outcome": e.outcome,
        "note": e.note,
        "trace_id": e.trace_id,
        "client": e.client,
    }
