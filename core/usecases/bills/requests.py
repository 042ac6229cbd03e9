"""A bill request as a caller app sent it, and the refusal that names the bill it is about."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.bills.model import (
    BillKind,
    WriteOffLine,
)
from core.errors import DomainError
from core.money import Money


@dataclass(frozen=True, slots=True)
class BillRequest:
    """A loan or reimbursement bill as a caller app sent it (well-formed, not yet checked)."""

    app_id: str
    kind: BillKind
    request_hash: str
    bill_code: str
    pay_mode: str
    applicant_account_id: str
    amount: Money  # the loan amount or the reimbursement amount R
    write_off_total: Money
    write_offs: tuple[WriteOffLine, ...] = ()
    exchange_rate: Decimal | None = None
    payer_card_no: str | None = None
    payee_card_no: str | None = None
    payee_name: str | None = None
    memo: str | None = None


class BillRefused(DomainError):
    """A request about a bill refused with the code of `error`; `bill_id` names the bill
    (stored refused by a check, or the bill already holding the bill code)."""

    def __init__(self, bill_id: str, error: DomainError) -> None:
        super().__init__(error.message, field=error.field, code=error.code)
        self.http_status = error.http_status
        self.bill_id = bill_id
