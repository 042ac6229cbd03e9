"""Read model of payouts: the analysis report (their lists are in lists.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.money import Money
from core.payouts.report import PayoutReport, ReportGroup, ReportQuery, report_keys
from gateway.storage.payout_tables import payouts as table


class PayoutQueries:
    """Read-only views for operators: the analysis report."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def report(self, query: ReportQuery) -> PayoutReport:
        """Counts and amounts per group; sums run in the database, in integer minor units."""
        columns: list[sa.ColumnElement[Any]] = []
        for key in query.group_by:
            for name in key.columns:
                if name == "day":
                    columns.append(table.c.created_day.label("day"))
                elif name != "type_name":
                    columns.append(table.c[name])
        columns.append(table.c.currency)
        stmt = (
            sa.select(
                *columns,
                sa.func.count().label("count"),
                sa.func.coalesce(sa.func.sum(table.c.amount_minor), 0).label("amount_minor"),
            )
            .group_by(*columns)
            .order_by(*(c.asc().nulls_first() for c in columns))
        )
        if query.start is not None:
            stmt = stmt.where(table.c.created_day >= query.start.isoformat())
        if query.end is not None:
            stmt = stmt.where(table.c.created_day <= query.end.isoformat())
        if query.app_id is not None:
            stmt = stmt.where(table.c.app_id == query.app_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        groups = []
        for row in rows:
            m = dict(row._mapping)
            keys: dict[str, Any] = {}
            for key in query.group_by:
                keys.update(report_keys(key, m))
            keys["currency"] = m["currency"]
            groups.append(ReportGroup(keys, int(m["count"]), Money(int(m["amount_minor"]), m["currency"])))
        return PayoutReport(query, groups)
