"""The shapes of success answers, as /openapi.json describes them: one model per view, every key
always present (null when it has no value) unless marked optional, and no key beyond them.

The views that build these answers (core/usecases/<workflow>/views.py and the read models) stay
the one place that fills them; the contract test validates every answer the integration tests
receive against the document, so a view and its model cannot drift apart unnoticed. Workflow
answers (bills, payouts, lease) are in `answers_workflows.py`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from core.general_pay.trade import TradeStatus
from core.money import AMOUNT_PATTERN
from core.payments.model import PaymentStatus
from gateway.http.schemas.base import CURRENCIES

# the wire format of money and times in answers
AmountText = Annotated[str, WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN})]
SIGNED_AMOUNT_PATTERN = "^-?" + AMOUNT_PATTERN.removeprefix("^")
SignedAmountText = Annotated[str, WithJsonSchema({"type": "string", "pattern": SIGNED_AMOUNT_PATTERN})]
CurrencyCode = Annotated[str, WithJsonSchema({"enum": CURRENCIES})]
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
DateText = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]


class Answer(BaseModel):
    """The base of every answer model: no keys beyond those declared."""

    model_config = ConfigDict(extra="forbid")


class OpenAnswer(BaseModel):
    """An object whose keys are the channel's or the caller's (details, raw answers)."""

    model_config = ConfigDict(extra="allow")


class Health(Answer):
    status: str
    channels: list[str]


class PaymentAnswer(Answer):
    id: str
    out_request_no: str
    status: PaymentStatus
    pay_method: str
    channel: str
    amount: AmountText
    currency: CurrencyCode
    payer_account: str | None
    payee_account: str | None
    business_type: str | None
    memo: str | None
    channel_ref: str | None
    failure_code: str | None
    failure_message: str | None
    created_at: Timestamp
    updated_at: Timestamp


class FlowRecordAnswer(Answer):
    node: str
    outcome: str
    message: str | None
    detail: dict[str, Any] | None
    actor: str | None
    at: Timestamp


class PaymentFlow(Answer):
    payment_id: str
    flow: list[FlowRecordAnswer]


class RouteRuleAnswer(OpenAnswer):
    index: int
    label: str
    submitters: list[str]


class RouteExplanation(Answer):
    channel: str
    rule: RouteRuleAnswer


class StuckPayment(Answer):
    id: str
    app_id: str | None
    channel: str
    status: PaymentStatus
    query_attempts: int
    escalated: bool
    next_query_at: Timestamp | None
    created_at: Timestamp


class StuckPayments(Answer):
    payments: list[StuckPayment]


class BankCardAnswer(Answer):
    card_no: str = Field(description="masked: the last four digits only")
    name: str | None
    bank_name: str | None
    bank_no: str | None = Field(description="the card's bank's CNAPS number (联行号), if registered")


class AccountAnswer(Answer):
    id: str
    owner: str
    kind: str
    currency: CurrencyCode
    status: str
    allow_overdraft: bool
    balance: SignedAmountText
    pending_balance: SignedAmountText
    created_at: Timestamp
    bank_card: BankCardAnswer | None


class EntryAnswer(Answer):
    id: int
    txn_id: str
    kind: str
    direction: str
    amount: AmountText
    currency: CurrencyCode
    sub_account: str
    balance_after: SignedAmountText
    memo: str | None
    created_at: Timestamp


class EntriesPage(Answer):
    entries: list[EntryAnswer]
    next_cursor: str | None


class FundingAnswer(Answer):
    id: str
    account_id: str
    out_request_no: str
    amount: AmountText
    currency: CurrencyCode


class CurrencyTotal(Answer):
    sum_of_balances: SignedAmountText
    accounts: int


class LedgerCheckAnswer(Answer):
    ok: bool
    currencies: dict[str, CurrencyTotal]
    transactions_checked: int
    unbalanced_transactions: list[str]
    accounts_not_matching_flows: list[str]
    accounts_below_zero: list[str]


class DeliveryAnswer(Answer):
    id: str
    app_id: str | None
    event_type: str
    subject_id: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: Timestamp
    created_at: Timestamp
    delivered_at: Timestamp | None


class Deliveries(Answer):
    notifications: list[DeliveryAnswer]


class OperatorAnswer(Answer):
    login: str
    display_name: str | None
    roles: list[str]
    permissions: list[str]


# -- trades (seed 003: a stored trade, then its payment) -------------------------------------------


class TradeFee(Answer):
    amount: AmountText | None
    account: str | None


class UpperMerchantAnswer(Answer):
    account: str
    level: int
    fee_amount: AmountText
    fee_plus_amount: AmountText


class PaySolutionAnswer(Answer):
    upper_merchants: list[UpperMerchantAnswer]
    fee_solution: list[str]


class TradeFlagsAnswer(Answer):
    need_share_profit: bool
    is_profit: bool
    recv_confirm: bool
    refund_fee: bool
    fee_payer: str
    client_source: str | None
    special_code: str | None
    recvable_id: str | None
    credit_recv_id: str | None


class TradeAnswer(Answer):
    id: str
    out_trade_no: str
    status: TradeStatus
    payer_account: str
    payee_account: str
    amount: AmountText
    currency: CurrencyCode
    pay_method: str
    channel: str | None
    settlement: str
    fee: TradeFee | None
    payment_mode: str | None
    parallel_type: str
    pay_solution: PaySolutionAnswer | None
    flags: TradeFlagsAnswer
    memo: str | None
    payment_id: str | None
    created_at: Timestamp
    updated_at: Timestamp


class PaidTradeAnswer(Answer):
    trade: TradeAnswer
    payment: PaymentAnswer
