"""The lease orders list: which orders its filters pick (status, app, created window, a period
status such as failed or collecting), and the orders of a page with their rent periods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.lease.order import LeaseOrder
from core.lease.parts import RentPeriod
from gateway.storage.lease import row_to_lease_order, row_to_period
from gateway.storage.lease_tables import lease_orders, lease_periods
from gateway.storage.queries.pages import Listing, created_between, matching


@dataclass(frozen=True)
class LeaseOrderFilter:
    """The lease orders a list asks for; None: any. `period_status`: orders with a period in it."""

    status: str | None = None
    app_id: str | None = None
    period_status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def listing(self, app_scope: str | None = None) -> Listing:
        where = [
            *matching(lease_orders, status=self.status, app_id=self.app_id),
            *created_between(lease_orders, self.created_from, self.created_to),
        ]
        if self.period_status is not None:
            where.append(
                lease_orders.c.id.in_(
                    sa.select(lease_periods.c.order_id).where(lease_periods.c.status == self.period_status)
                )
            )
        scope = [lease_orders.c.app_id == app_scope] if app_scope is not None else []
        return Listing(lease_orders, scope, where)


async def orders_of(conn: AsyncConnection, rows: Sequence[sa.Row[Any]]) -> list[LeaseOrder]:
    """The orders of a page's rows, each with its rent periods (one query for the whole page)."""
    if not rows:
        return []
    periods: dict[str, list[RentPeriod]] = {row.id: [] for row in rows}
    stmt = (
        sa.select(lease_periods)
        .where(lease_periods.c.order_id.in_(list(periods)))
        .order_by(lease_periods.c.order_id, lease_periods.c.period_no)
    )
    for period in (await conn.execute(stmt)).all():
        periods[period.order_id].append(row_to_period(period))
    return [row_to_lease_order(row, tuple(periods[row.id])) for row in rows]
