"""Request bodies of the operators' approvals and of the resolution of an escalated payment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.http.schemas.base import Body


class ResolveBody(Body):
    decision: Literal["succeeded", "failed"] = Field(description="the outcome the evidence shows")
    evidence: str = Field(
        min_length=1,
        max_length=2000,
        description="what shows it: a bank statement line, the channel's ticket",
    )
    note: str | None = Field(default=None, max_length=1000)


class ApprovalRejectBody(Body):
    reason: str = Field(min_length=1, max_length=1000, description="why the proposal is refused")
