"""The audit log's and the approvals' lists (newest first, the one keyset page reader)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from core.approvals.model import Approval, AuditEntry
from gateway.storage.approval_tables import approvals, audit_log
from gateway.storage.approvals import approval_of, audit_entry_of
from gateway.storage.queries.pages import Listing, PageRequest, created_between, matching, read_page


@dataclass(frozen=True)
class AuditFilter:
    operator: str | None = None
    action: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def listing(self) -> Listing:
        where = [
            *matching(
                audit_log,
                operator=self.operator,
                action=self.action,
                subject_type=self.subject_type,
                subject_id=self.subject_id,
            ),
            *created_between(audit_log, self.created_from, self.created_to),
        ]
        return Listing(audit_log, (), where)


@dataclass(frozen=True)
class ApprovalFilter:
    status: str | None = "pending"
    action: str | None = None
    subject_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def listing(self) -> Listing:
        where = [
            *matching(approvals, status=self.status, action=self.action, subject_id=self.subject_id),
            *created_between(approvals, self.created_from, self.created_to),
        ]
        return Listing(approvals, (), where)


class OpsListQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def audit(self, f: AuditFilter, page: PageRequest) -> tuple[list[AuditEntry], bool]:
        async with self.engine.connect() as conn:
            found = await read_page(conn, f.listing(), page)
        return [audit_entry_of(r) for r in found.rows], found.has_more

    async def approvals(self, f: ApprovalFilter, page: PageRequest) -> tuple[list[Approval], bool]:
        async with self.engine.connect() as conn:
            found = await read_page(conn, f.listing(), page)
        return [approval_of(r) for r in found.rows], found.has_more
