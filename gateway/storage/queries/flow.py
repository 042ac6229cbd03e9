"""Read model of the flow log (pay_life_log): a subject's timeline."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage import tables as t


class FlowReader:
    """Reads a subject's flow-log timeline (a payment, bill, payout or lease order), oldest first."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def timeline(self, subject_id: str) -> list[dict[str, Any]]:
        f = t.flow_log
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(f).where(f.c.subject_id == subject_id).order_by(f.c.id))
            ).all()
        return [
            {
                "node": r.node,
                "outcome": r.outcome,
                "message": r.message,
                "detail": r.detail,
                "actor": r.actor,
                "at": r.at.isoformat(),
            }
            for r in rows
        ]
