"""Read model of the outbox for operators: replay, and stuck payments (the deliveries list is in lists.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import Conflict, NotFound
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import utcnow
from gateway.storage import tables as t
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import FlowLogSink


def outbox_json(row: Any) -> dict[str, Any]:
    """An outbox row as operators see it."""
    return {
        "id": row.id,
        "app_id": row.app_id,
        "event_type": row.event_type,
        "subject_id": row.subject_id,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


class OutboxAdmin:
    """What operators do with deliveries (replay) and see of stuck payments."""

    def __init__(
        self,
        engine: AsyncEngine,
        uow: Callable[[], SqlUnitOfWork],
        flow: FlowLogSink,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.uow = uow
        self.flow = flow
        self.clock = clock

    async def replay(self, event_id: str, actor: str, *, stuck_only: bool = False) -> dict[str, Any]:
        """Queue the delivery again (attempts from 0), in one conditional update: never while a
        deliverer holds it (409 NOTIFICATION_IN_DELIVERY: its outcome is not known yet, and a
        second deliverer would send it at the same time); with `stuck_only`, only a failing or
        dead one (409 NOTIFICATION_NOT_STUCK otherwise: queued or delivered since the page was
        shown)."""
        o = t.outbox
        now = self.clock()
        refusal = sa.case(
            (sa.and_(o.c.status == "pending", o.c.leased_until >= now), "in_delivery"),
            (sa.or_(o.c.status == "dead", sa.and_(o.c.status == "pending", o.c.attempts > 0)), "stuck"),
            else_="not_stuck",
        )
        allowed = ("stuck",) if stuck_only else ("stuck", "not_stuck")
        async with self.uow() as unit:
            conn = unit.conn
            row = (
                await conn.execute(
                    o.update()
                    .where(o.c.id == event_id, refusal.in_(allowed))
                    .values(
                        status="pending", attempts=0, next_attempt_at=now, leased_until=None, leased_by=None
                    )
                    .returning(o)
                )
            ).first()
            if row is None:
                read = sa.select(o, refusal.label("refusal")).where(o.c.id == event_id)
                current = (await conn.execute(read)).first()
                if current is None:
                    raise NotFound(f"notification {event_id} does not exist", code="NOTIFICATION_NOT_FOUND")
                if current.refusal == "in_delivery":
                    raise Conflict(
                        f"notification {event_id} is being delivered now: replay it once that attempt "
                        "has ended, if it failed",
                        code="NOTIFICATION_IN_DELIVERY",
                    )
                raise Conflict(
                    f"notification {event_id} is {current.status} after {current.attempts} attempts: "
                    "neither failing nor dead",
                    code="NOTIFICATION_NOT_STUCK",
                )
            await unit.commit()
        self.flow.record(
            FlowRecord(
                row.subject_id,
                FlowNode.OPERATOR_ACTION,
                FlowOutcome.OK,
                now,
                f"notification {event_id} queued for replay",
                actor=actor,
            )
        )
        return outbox_json(row)

    async def stuck_payments(self, limit: int = 200) -> list[dict[str, Any]]:
        p = t.payments
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        p.c.id,
                        p.c.app_id,
                        p.c.channel,
                        p.c.status,
                        p.c.query_attempts,
                        p.c.escalated,
                        p.c.next_query_at,
                        p.c.created_at,
                    )
                    .where(p.c.status.in_(("created", "processing", "unknown")))
                    .order_by(p.c.escalated.desc(), p.c.created_at)
                    .limit(limit)
                )
            ).all()
        return [
            {
                "id": r.id,
                "app_id": r.app_id,
                "channel": r.channel,
                "status": r.status,
                "query_attempts": r.query_attempts,
                "escalated": r.escalated,
                "next_query_at": r.next_query_at.isoformat() if r.next_query_at else None,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
