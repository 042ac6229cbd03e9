"""Request bodies of loan and reimbursement bills and of the operators' actions on them."""

from __future__ import annotations

from pydantic import Field

from gateway.http.schemas.base import Amount, Body, Currency, Id

CardNo = Field(default=None, min_length=8, max_length=32, pattern=r"^[0-9]+$")


class BillBody(Body):
    # checked by the bill rules (BILL_CODE_INVALID, PAY_MODE_UNSUPPORTED), which store the bill
    bill_code: str = Field(min_length=1, max_length=64)
    pay_mode: str = Field(min_length=1, max_length=16)
    applicant_account: str = Id
    currency: Currency
    exchange_rate: str | None = Field(default=None, max_length=32, pattern=r"^[0-9]{1,12}(\.[0-9]{1,16})?$")
    payer_card_no: str | None = CardNo
    payee_card_no: str | None = CardNo
    payee_name: str | None = Field(default=None, min_length=1, max_length=128)
    memo: str | None = Field(default=None, max_length=256)


class LoanBody(BillBody):
    """借款单: the company lends `amount` to the applicant."""

    amount: Amount


class WriteOffBody(Body):
    loan_bill_id: str = Id
    amount: Amount


class ReimbursementBody(BillBody):
    """报销单: pays reimbursement_amount less write_off_total, which repays the listed loans."""

    reimbursement_amount: Amount
    write_off_total: str
    write_offs: list[WriteOffBody] = Field(default_factory=list, max_length=100)


class BillActionBody(Body):
    reason: str | None = Field(default=None, max_length=256)
