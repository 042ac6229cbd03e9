"""The shapes of the approvals' and the audit log's answers, as /openapi.json describes them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import RootModel

from gateway.http.schemas.answer_lists import ListAnswer
from gateway.http.schemas.answers import Answer, FundingAnswer
from gateway.http.schemas.answers_workflows import PayoutAnswer


class ApprovalAnswer(Answer):
    object: Literal["approval"]
    id: str
    action: Literal["resolve_payment", "fund_account", "approve_payout"]
    subject_type: str
    subject_id: str
    payload: dict[str, Any]
    # checking and executing: the approvals worker is at the channel; poll GET /ops/approvals/{id}
    status: Literal["checking", "pending", "executing", "confirmed", "rejected", "closed"]
    proposed_by: str
    proposed_at: str
    note: str | None
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    result: dict[str, Any]


class AuditEntryAnswer(Answer):
    object: Literal["audit_entry"]
    id: str
    at: str
    operator: str
    role: str | None
    action: str
    subject_type: str | None
    subject_id: str | None
    outcome: str
    note: str | None
    trace_id: str | None
    client: str | None


class ApprovalList(ListAnswer):
    data: list[ApprovalAnswer]


class AuditList(ListAnswer):
    data: list[AuditEntryAnswer]


class FundingOrProposal(RootModel[FundingAnswer | ApprovalAnswer]):
    """The funding, or (maker-checker on funding) its proposal awaiting a second operator."""


class PayoutOrProposal(RootModel[PayoutAnswer | ApprovalAnswer]):
    """The approved payout, or (over ops.maker_checker.payout_approval_over) the proposal."""
