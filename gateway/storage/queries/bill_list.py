"""The bills list: which bills its filters pick (status, pay mode, app, created window, needs action)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from core.bills.actions import allowed_actions
from core.bills.model import BillStatus, PayMode
from gateway.storage.bill_tables import bills
from gateway.storage.queries.pages import Listing, created_between, matching

# a person must look at these whatever the actions allow: failed, refused, or not known
_STUCK = frozenset(
    {
        BillStatus.VALIDATION_FAILED,
        BillStatus.RISK_REJECTED,
        BillStatus.BANK_FAILED,
        BillStatus.BANK_UNKNOWN,
        BillStatus.BUSINESS_FAILED,
    }
)


def needs_action() -> sa.ColumnElement[bool]:
    """A bill an operator should look at: it is stuck, or an error-handling action is allowed in
    its status and pay mode (a pay mode other than bank counts as transfer, as the actions do)."""
    stuck = sorted(s.value for s in _STUCK)
    bank = sorted(s.value for s in BillStatus if allowed_actions(s, PayMode.BANK))
    other = sorted(s.value for s in BillStatus if allowed_actions(s, PayMode.TRANSFER))
    # the outer IN lets ix_bills_status_created_at_id find the few such bills among millions
    return sa.and_(
        bills.c.status.in_(sorted({*stuck, *bank, *other})),
        sa.or_(
            bills.c.status.in_(stuck),
            sa.and_(bills.c.pay_mode == PayMode.BANK.value, bills.c.status.in_(bank)),
            sa.and_(bills.c.pay_mode != PayMode.BANK.value, bills.c.status.in_(other)),
        ),
    )


@dataclass(frozen=True)
class BillFilter:
    """The bills a list asks for; None: any."""

    status: str | None = None
    pay_mode: str | None = None
    app_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    needs_action: bool | None = None

    def listing(self, app_scope: str | None = None) -> Listing:
        where = [
            *matching(bills, status=self.status, pay_mode=self.pay_mode, app_id=self.app_id),
            *created_between(bills, self.created_from, self.created_to),
        ]
        if self.needs_action is not None:
            where.append(needs_action() if self.needs_action else sa.not_(needs_action()))
        scope = [bills.c.app_id == app_scope] if app_scope is not None else []
        return Listing(bills, scope, where)
