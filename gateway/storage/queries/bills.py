"""Monitoring reads of bills (seed 002 §6): a bill's merged timeline and its raw bank packets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bills.model import Bill, attempt_request_no
from gateway.storage import tables as t
from gateway.storage.queries.flow import FlowReader


class BillQueries:
    """Monitoring reads (seed 002 §6): a bill's merged timeline and its raw bank packets."""

    def __init__(self, engine: AsyncEngine, flow_reader: FlowReader) -> None:
        self.engine = engine
        self.flow_reader = flow_reader

    async def payments(self, bill: Bill) -> list[tuple[int, str]]:
        """(attempt, payment id) of every bank attempt that reached the payments table."""
        numbers = {attempt_request_no(bill.id, n): n for n in range(1, bill.attempt + 1)}
        if not numbers:
            return []
        p = t.payments
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(p.c.id, p.c.out_request_no).where(
                    p.c.app_id == bill.app_id, p.c.out_request_no.in_(list(numbers))
                )
            )
            return sorted((numbers[row.out_request_no], row.id) for row in rows)

    async def timeline(self, bill: Bill) -> list[dict[str, Any]]:
        """The bill's flow log merged with its bank payments' flow logs, by time."""
        items: list[tuple[datetime, int, dict[str, Any]]] = []
        sources: list[tuple[str, int | None]] = [(bill.id, None)]
        sources += [(payment_id, attempt) for attempt, payment_id in await self.payments(bill)]
        for order, (subject, attempt) in enumerate(sources):
            for record in await self.flow_reader.timeline(subject):
                record = {"subject": "bill" if attempt is None else subject, "attempt": attempt, **record}
                items.append((datetime.fromisoformat(record["at"]), order, record))
        items.sort(key=lambda item: (item[0], item[1]))
        return [record for _, _, record in items]

    async def exchanges(self, bill: Bill) -> list[dict[str, Any]]:
        """What went over the wire to the bank for every attempt, masked by the channel plugin."""
        attempts = {payment_id: attempt for attempt, payment_id in await self.payments(bill)}
        if not attempts:
            return []
        x = t.channel_exchanges
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(x).where(x.c.subject_id.in_(list(attempts))).order_by(x.c.id))
            return [
                {
                    "payment_id": row.subject_id,
                    "attempt": attempts[row.subject_id],
                    "channel": row.channel,
                    "operation": row.operation,
                    "request": row.request,
                    "response": row.response,
                    "error": row.error,
                    "at": row.at.isoformat(),
                }
                for row in rows
            ]
