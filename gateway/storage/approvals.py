"""SQL storage of approvals (maker-checker) and of the audit log (gateway/storage/approval_tables.py),
and the one read of a payment's escalation the operator resolution needs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.approvals.model import (
    OPEN_STATES,
    STARTED,
    WORKER_STATES,
    Approval,
    ApprovalAction,
    ApprovalStatus,
    AuditEntry,
)
from gateway.storage import tables as t
from gateway.storage.approval_tables import approvals, audit_log
from gateway.storage.uow import SqlUnitOfWork


def approval_of(row: Any) -> Approval:
    return Approval(
        id=row.id,
        action=ApprovalAction(row.action),
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        payload=dict(row.payload or {}),
        status=ApprovalStatus(row.status),
        proposed_by=row.proposed_by,
        proposed_at=row.created_at,
        note=row.note,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
        result=dict(row.result or {}),
    )


def audit_entry_of(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.created_at,
        operator=row.operator,
        role=row.role,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        outcome=row.outcome,
        note=row.note,
        trace_id=row.trace_id,
        client=row.client,
    )


class SqlApprovals:
    """`ApprovalStore` on SQL: reads on the engine, writes in a unit of work (SQLite: the writer's turn)."""

    def __init__(self, engine: AsyncEngine, uow: Callable[[], SqlUnitOfWork]) -> None:
        self.engine = engine
        self.uow = uow

    async def add(self, approval: Approval, *, sole: bool = False) -> Approval | None:
        async with self.uow() as unit:
            if sole:
                already = await self._open_one(unit.conn, approval)
                if already is not None:
                    return already
            await unit.conn.execute(
                approvals.insert().values(
                    id=approval.id,
                    created_at=approval.proposed_at,
                    action=approval.action.value,
                    subject_type=approval.subject_type,
                    subject_id=approval.subject_id,
                    payload=approval.payload,
                    status=approval.status.value,
                    proposed_by=approval.proposed_by,
                    note=approval.note,
                )
            )
            await unit.commit()
        return None

    @staticmethod
    async def _open_one(conn: AsyncConnection, approval: Approval) -> Approval | None:
        """The open approval of the same action and subject, if any. PostgreSQL: two
        transactions asking at once take turns (a transaction's advisory lock on the subject),
        so that one of them stores its approval; SQLite writes one transaction at a time."""
        a = approvals
        if conn.dialect.name == "postgresql":
            key = f"approvals:{approval.action.value}:{approval.subject_id}"
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
        query = sa.select(a).where(
            a.c.action == approval.action.value,
            a.c.subject_id == approval.subject_id,
            a.c.status.in_([s.value for s in OPEN_STATES]),
        )
        row = (await conn.execute(query.limit(1))).first()
        return None if row is None else approval_of(row)

    async def get(self, approval_id: str) -> Approval | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(approvals).where(approvals.c.id == approval_id))).first()
        return None if row is None else approval_of(row)

    async def due(self, now: datetime, limit: int) -> list[Approval]:
        a = approvals
        free = sa.or_(a.c.leased_until.is_(None), a.c.leased_until <= now)
        query = (
            sa.select(a)
            .where(a.c.status.in_([s.value for s in WORKER_STATES]), free)
            .order_by(a.c.created_at, a.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [approval_of(r) for r in rows]

    async def claim(
        self, approval_id: str, status: ApprovalStatus, *, holder: str, until: datetime, now: datetime
    ) -> bool:
        a = approvals
        async with self.uow() as unit:
            claimed = await unit.conn.execute(
                a.update()
                .where(
                    a.c.id == approval_id,
                    a.c.status == status.value,
                    sa.or_(a.c.leased_until.is_(None), a.c.leased_until <= now),
                )
                .values(leased_by=holder, leased_until=until)
            )
            await unit.commit()
        return bool(claimed.rowcount)

    async def move(
        self,
        approval_id: str,
        expected: ApprovalStatus,
        to: ApprovalStatus,
        *,
        at: datetime,
        decided_by: str | None = None,
        reason: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": to.value, "leased_by": None, "leased_until": None}
        if decided_by is not None:
            values.update(decided_by=decided_by, decided_at=at)
        if reason is not None:
            values["reason"] = reason
        if result is not None:
            values["result"] = result
        async with self.uow() as unit:
            moved = await unit.conn.execute(
                approvals.update()
                .where(approvals.c.id == approval_id, approvals.c.status == expected.value)
                .values(**values)
            )
            await unit.commit()
        return bool(moved.rowcount)


class SqlAuditLog:
    """`AuditLog` on SQL."""

    def __init__(self, uow: Callable[[], SqlUnitOfWork]) -> None:
        self.uow = uow

    async def record(self, entry: AuditEntry) -> None:
        async with self.uow() as unit:
            await unit.conn.execute(
                audit_log.insert().values(
                    id=entry.id,
                    created_at=entry.at,
                    operator=entry.operator,
                    role=entry.role,
                    action=entry.action,
                    subject_type=entry.subject_type,
                    subject_id=entry.subject_id,
                    outcome=entry.outcome[:64],
                    note=entry.note,
                    trace_id=entry.trace_id,
                    client=entry.client,
                )
            )
            await unit.commit()

    async def finish(self, entry_id: str, outcome: str, note: str | None) -> bool:
        async with self.uow() as unit:
            done = await unit.conn.execute(
                audit_log.update()
                .where(audit_log.c.id == entry_id, audit_log.c.outcome == STARTED)
                .values(outcome=outcome[:64], note=note)
            )
            await unit.commit()
        return bool(done.rowcount)


class SqlEscalatedPayments:
    """`EscalatedPayments` on SQL: the payments row's `escalated` flag."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def escalated(self, payment_id: str) -> bool:
        p = t.payments
        async with self.engine.connect() as conn:
            found = await conn.scalar(sa.select(p.c.escalated).where(p.c.id == payment_id))
        return bool(found)
