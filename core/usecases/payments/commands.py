"""What the payment use cases take: the payment command, and the listeners that follow payments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.money import Money
from core.payments.model import Payment
from core.payments.routing import CALLERS
from ports.storage import UnitOfWork


class PaymentListener(Protocol):
    """Called inside the transaction that moves a payment, with the moved payment: workflows
    built on payments (payouts, bills, lease) update their own records atomically with the
    payment's state. It needs the whole `UnitOfWork` (its workflow's repository), so it cannot
    run in a ledger payment's `LedgerWork`: a payment it `follows` is never settled there."""

    def follows(self, payment: Payment) -> bool:
        """Whether this listener moves a record of its workflow with `payment`."""
        ...

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None: ...


@runtime_checkable
class ReturnListener(Protocol):
    """A payment listener whose records can learn a late channel fact: the succeeded `payment`
    was returned (its money came back). The payment stays succeeded; the listener moves its own
    record, inside `uow`, once: it returns False when the fact was applied before."""

    def follows(self, payment: Payment) -> bool: ...

    async def returned(
        self, uow: UnitOfWork, payment: Payment, at: datetime, *, code: str | None, message: str | None
    ) -> bool:
        """Apply the return (the channel's `code` and `message` say why)."""
        ...


@dataclass(frozen=True, slots=True)
class PaymentCommand:
    app_id: str
    out_request_no: str
    request_hash: str
    pay_method: str
    amount: Money
    payer_account: str | None
    payee_account: str | None
    channel: str | None = None
    business_type: str | None = None
    memo: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    # accounts of the platform's ledger that this payment names (checked for ownership)
    ledger_accounts: tuple[str, ...] = ()
    # who submits: `callers` (the app's own POST /v1/payments) or the workflow paying for one of
    # its records (payouts, bills, lease); routing lets each reach only the channels open to it
    submitter: str = CALLERS
