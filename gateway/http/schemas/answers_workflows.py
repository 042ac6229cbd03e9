"""The shapes of the workflows' success answers (bills, payouts, lease orders), as /openapi.json
describes them; built by each workflow's views (core/usecases/<workflow>/views.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.bills.model import BillKind, BillStatus
from core.lease.status import OrderStatus
from core.payouts.model import PayoutStatus
from gateway.http.schemas.answers import (
    AmountText,
    Answer,
    CurrencyCode,
    DateText,
    FlowRecordAnswer,
    OpenAnswer,
    SignedAmountText,
    Timestamp,
)

# -- bills (seed 002) ----------------------------------------------------------------------------


class WriteOffLine(Answer):
    loan_bill_id: str
    amount: AmountText


class BillFailure(Answer):
    code: str
    message: str | None
    field: str | None


class LoanStanding(Answer):
    open_amount: AmountText
    state: str


class BillAnswer(Answer):
    id: str
    bill_code: str
    kind: BillKind
    status: BillStatus
    pay_mode: str
    currency: CurrencyCode
    applicant_account: str
    amount: AmountText | None = Field(default=None, description="a loan's amount")
    reimbursement_amount: AmountText | None = Field(default=None, description="a reimbursement's")
    write_off_total: AmountText | None = Field(default=None, description="a reimbursement's")
    write_offs: list[WriteOffLine] | None = Field(default=None, description="a reimbursement's")
    real_amount: SignedAmountText | None = Field(
        default=None, description="a reimbursement's: paid out (below zero on a bill refused for it)"
    )
    exchange_rate: str | None
    payer_card_no: str | None = Field(description="masked: the last four digits only")
    payee_card_no: str | None = Field(description="masked: the last four digits only")
    payee_name: str | None
    payee_bank_name: str | None
    payee_bank_no: str | None = Field(description="the payee bank's CNAPS number (联行号)")
    memo: str | None
    attempt: int
    payment_id: str | None
    failure: BillFailure | None
    bank_failure_evidence: str | None
    loan: LoanStanding | None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None


class BillActionAnswer(BillAnswer):
    allowed_actions: list[str]


class OpsBillAnswer(BillActionAnswer):
    app_id: str


class BillFlowRecord(FlowRecordAnswer):
    subject: str = Field(description='"bill", or the id of the bank payment of an attempt')
    attempt: int | None


class BillFlow(Answer):
    bill_id: str
    flow: list[BillFlowRecord]


class BankExchange(Answer):
    payment_id: str
    attempt: int
    channel: str
    operation: str
    request: Any
    response: Any
    error: str | None
    at: Timestamp


class BillExchanges(Answer):
    bill_id: str
    exchanges: list[BankExchange]


# -- payouts (seed 001) --------------------------------------------------------------------------


class ReviewAnswer(Answer):
    decision: str
    reviewer: str
    at: Timestamp
    operator: str | None
    note: str | None


class PayoutAnswer(Answer):
    id: str
    serial_no: str
    order_serial_no: str | None
    app_id: str
    source_platform: str | None
    trace_id: str | None
    status: PayoutStatus
    amount: AmountText
    currency: CurrencyCode
    payee_account: str = Field(description="masked")
    payee_name: str | None
    type: int
    type_name: str
    pay_method: str
    pay_back_type: int
    reason: str | None
    insurance_merchant: str | None
    business_type: str
    send_sms: bool
    sms_phone: str | None = Field(description="masked")
    pay_type: int | None
    creator: str | None
    bank: dict[str, Any] | None
    voucher: dict[str, Any] | None
    review: ReviewAnswer | None
    payment_id: str | None
    channel: str | None
    channel_ref: str | None
    failure_code: str | None
    failure_message: str | None
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Timestamp | None


class BatchItemAnswer(Answer):
    index: int
    serial_no: str | None
    status: str = Field(description="accepted or rejected")
    created: bool | None = Field(default=None, description="accepted: a new payout (false: a repeat)")
    payout: PayoutAnswer | None = Field(default=None, description="accepted: the payout")
    code: str | None = Field(default=None, description="rejected: why")
    message: str | None = Field(default=None, description="rejected: what to fix")
    field: str | None = Field(default=None, description="rejected: where")


class BatchAnswer(Answer):
    trace_id: str | None
    accepted: int
    rejected: int
    items: list[BatchItemAnswer]


class PayoutFlow(Answer):
    payout_id: str
    payment_id: str | None
    flow: list[FlowRecordAnswer]


class ReportGroup(OpenAnswer):
    """One group: its key columns (those of `group_by`), its count and amount."""

    count: int
    amount: AmountText


class ReportTotal(Answer):
    currency: CurrencyCode
    count: int
    amount: AmountText


class PayoutReportAnswer(Answer):
    start: DateText | None = Field(alias="from")
    end: DateText | None = Field(alias="to")
    group_by: list[str]
    groups: list[ReportGroup]
    totals: list[ReportTotal]


# -- lease orders (seed 000) ---------------------------------------------------------------------


class SignerAnswer(Answer):
    party: str
    sign_url: str | None
    signed: bool


class ContractAnswer(Answer):
    status: str
    template_id: str | None
    contract_no: str | None
    sign_url: str | None
    signers: list[SignerAnswer]
    signed_at: Timestamp | None
    finalised_at: Timestamp | None
    failure_code: str | None


class UnsignRefusalAnswer(Answer):
    operation: str
    service_user: str
    user_debt: AmountText
    currency: CurrencyCode
    reason: str
    at: Timestamp


class AgreementAnswer(Answer):
    status: str
    external_agreement_no: str | None
    agreement_no: str | None
    sign_url: str | None
    signed_at: Timestamp | None
    unsigned_at: Timestamp | None
    unsign_reason: str | None
    unsign_refusals: list[UnsignRefusalAnswer]


class PlanAnswer(Answer):
    status: str
    cancel_reason: str | None
    cancel_note: str | None
    cancelled_at: Timestamp | None


class PeriodAnswer(Answer):
    no: int
    due_date: DateText
    amount: AmountText
    status: str
    attempts: int
    last_failure_code: str | None
    last_failure_message: str | None
    next_attempt_at: Timestamp | None
    payment_id: str | None
    trade_no: str | None
    paid_at: Timestamp | None


class ClosureAnswer(Answer):
    reason: str
    basis: str | None
    at: Timestamp


class OrderFailure(Answer):
    code: str
    message: str | None


class LeaseOrderAnswer(Answer):
    id: str
    out_order_no: str
    status: OrderStatus
    channel: str
    channel_order_id: str | None
    buyer_id: str | None = Field(description="the lessee's Alipay user id, masked (2088********5135)")
    title: str | None
    total_amount: AmountText
    currency: CurrencyCode
    period_count: int
    paid_amount: AmountText
    outstanding_amount: AmountText
    contract: ContractAnswer
    agreement: AgreementAnswer
    plan: PlanAnswer
    periods: list[PeriodAnswer]
    closure: ClosureAnswer | None
    failure: OrderFailure | None
    created_at: Timestamp
    updated_at: Timestamp


class ContractSigningAnswer(Answer):
    sign_url: str | None
    signers: list[SignerAnswer]
    order: LeaseOrderAnswer


class WithholdingSigningAnswer(Answer):
    sign_url: str | None
    order: LeaseOrderAnswer


class WithholdingQueryAnswer(Answer):
    channel: dict[str, Any]
    order: LeaseOrderAnswer


class ChannelInfoAnswer(Answer):
    order_id: str
    query_type: str
    channel: str
    info: dict[str, Any]


class LeaseFlow(Answer):
    order_id: str
    flow: list[FlowRecordAnswer]
