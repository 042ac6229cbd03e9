"""Lease orders (蚂蚁租赁, seed 000): the order and its rent plan, the contract, withholding
agreement, plan and period state machines, the close preconditions and the retry schedule.

A lease order is the platform's contract (合约): every operation of the seed belongs to one
order (归属于具体订单). Its life:

    sync the pre-order (同步前置订单)       created -> synced | sync_failed
    pre-sign the contract (前置合同签署)     contract unsigned -> signing -> signed
        multi-party (多方落签): the template names the parties; signed when all have signed;
        a refused or expired signing may be started again
    withholding agreement (代扣签约)         agreement none -> signing -> signed
    finalise the contract (落签)             signed -> finalised, once the agreement is signed
    collect rent (代扣), period by period    pending -> collecting -> paid | failed -> collecting ...
    unsign (解除代扣)                         agreement signed -> unsigned (collection stops)
    cancel the plan (取消代扣计划, reason)    plan active -> cancelled; unpaid periods cancelled
    refuse an async unsign (异步解约确认)     recorded on the agreement, which stays signed
    close (关闭订单, reason)                  synced -> closed, only when the lease is fulfilled
        (every period paid) or the plan was cancelled for lease-to-sale (租转售) or a
        successful return (退租成功), and no deduction is in flight

Collection: a period is due from the start of its due date (Beijing time). It is collected
only while the order is synced, the plan active, the contract signed and the agreement signed.
Each attempt is one payment whose out_request_no is fixed by (order, period, attempt), so a
resubmission never pays twice, and a period never has two live attempts: a new attempt starts
only from `pending` or `failed`. An unknown outcome keeps the period `collecting` until a query
resolves it. A failed attempt is retried after `RetrySchedule.steps[attempts - 1]` seconds;
when the schedule runs out the period stays failed with no retry time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import BusinessRuleViolation, Conflict, InvalidArgument
from core.money import Money, check_currency
from core.state import StateMachine

LEASE_CURRENCY = "CNY"
MAX_PERIODS = 120
# China keeps no daylight saving time: a fixed offset names Beijing wall-clock days.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
ALIPAY_USER_ID = re.compile(r"^2088[0-9]{12}$")
OUT_ORDER_NO = r"^[A-Za-z0-9_.:\-]{1,64}$"
_EXTERNAL_PREFIX = "LSE"


class OrderStatus(enum.StrEnum):
    CREATED = "created"  # stored; the channel has not confirmed the pre-order yet
    SYNCED = "synced"  # the channel holds the pre-order (同步前置订单 done)
    SYNC_FAILED = "sync_failed"  # the channel refused the pre-order
    CLOSED = "closed"  # 关闭订单


class ContractStatus(enum.StrEnum):
    UNSIGNED = "unsigned"
    SIGNING = "signing"  # the signing URL went to the caller; some parties may have signed
    SIGNED = "signed"  # every party the template names has signed
    FINALISED = "finalised"  # 落签: sealed after the withholding agreement was signed
    REFUSED = "refused"
    EXPIRED = "expired"


class AgreementStatus(enum.StrEnum):
    NONE = "none"
    SIGNING = "signing"  # the user has the signing URL
    SIGNED = "signed"  # the withholding agreement is in force (Alipay NORMAL)
    UNSIGNED = "unsigned"  # 解约: ended by us or by the user


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # 取消代扣计划


class CancelReason(enum.StrEnum):
    LEASE_TO_SALE = "lease_to_sale"  # 租转售: the user buys the goods
    RETURN_SUCCESS = "return_success"  # 退租成功: the goods came back
    OTHER = "other"


# Plan cancellations that allow closing an order that is not fulfilled (seed 1.9.1).
CLOSING_REASONS = frozenset({CancelReason.LEASE_TO_SALE, CancelReason.RETURN_SUCCESS})


class PeriodStatus(enum.StrEnum):
    PENDING = "pending"  # not yet collected
    COLLECTING = "collecting"  # an attempt is live (its payment may be unknown: a query decides)
    PAID = "paid"
    FAILED = "failed"  # the last attempt failed; retried at next_attempt_at
    CANCELLED = "cancelled"  # the plan was cancelled before it was paid


class AsyncUnsignOperation(enum.StrEnum):
    """异步解约确认 operations: the seed knows only REFUSE (the merchant keeps the agreement)."""

    REFUSE = "REFUSE"


ORDER_STATES: StateMachine[OrderStatus] = StateMachine(
    "lease order",
    {
        OrderStatus.CREATED: {OrderStatus.SYNCED, OrderStatus.SYNC_FAILED},
        OrderStatus.SYNCED: {OrderStatus.CLOSED},
        OrderStatus.SYNC_FAILED: set(),
        OrderStatus.CLOSED: set(),
    },
)
CONTRACT_STATES: StateMachine[ContractStatus] = StateMachine(
    "contract",
    {
        ContractStatus.UNSIGNED: {ContractStatus.SIGNING},
        ContractStatus.SIGNING: {
            ContractStatus.SIGNING,
            ContractStatus.SIGNED,
            ContractStatus.REFUSED,
            ContractStatus.EXPIRED,
        },
        ContractStatus.REFUSED: {ContractStatus.SIGNING},
        ContractStatus.EXPIRED: {ContractStatus.SIGNING},
        ContractStatus.SIGNED: {ContractStatus.FINALISED},
        ContractStatus.FINALISED: set(),
    },
)
AGREEMENT_STATES: StateMachine[AgreementStatus] = StateMachine(
    "withholding agreement",
    {
        AgreementStatus.NONE: {AgreementStatus.SIGNING},
        AgreementStatus.SIGNING: {AgreementStatus.SIGNING, AgreementStatus.SIGNED},
        AgreementStatus.SIGNED: {AgreementStatus.UNSIGNED},
        AgreementStatus.UNSIGNED: {AgreementStatus.SIGNING},
    },
)
PLAN_STATES: StateMachine[PlanStatus] = StateMachine(
    "withholding plan", {PlanStatus.ACTIVE: {PlanStatus.CANCELLED}, PlanStatus.CANCELLED: set()}
)
PERIOD_STATES: StateMachine[PeriodStatus] = StateMachine(
    "rent period",
    {
        PeriodStatus.PENDING: {PeriodStatus.COLLECTING, PeriodStatus.CANCELLED},
        PeriodStatus.COLLECTING: {PeriodStatus.PAID, PeriodStatus.FAILED, PeriodStatus.CANCELLED},
        PeriodStatus.FAILED: {PeriodStatus.COLLECTING, PeriodStatus.CANCELLED},
        PeriodStatus.PAID: set(),
        PeriodStatus.CANCELLED: set(),
    },
)
UNPAID = frozenset({PeriodStatus.PENDING, PeriodStatus.FAILED})


class ClosePreconditionFailed(Conflict):
    """Closing the order now would break a precondition of seed 1.9.1; `field` names it."""

    code = "CLOSE_PRECONDITION_FAILED"


class LeaseStateConflict(Conflict):
    """The operation does not fit where the order, its contract or its agreement stand."""

    code = "LEASE_STATE_CONFLICT"


class ChannelRefused(BusinessRuleViolation):
    """The channel answered with a definite refusal; `code` is the channel's."""

    code = "CHANNEL_REFUSED"


class ChannelOutcomeUnknown(Conflict):
    """The channel's answer is not known (timeout, unverifiable answer): nothing was changed
    here; the same operation may be repeated."""

    code = "CHANNEL_OUTCOME_UNKNOWN"
    http_status = 502


def due_moment(day: date) -> datetime:
    """The start of `day` in Beijing, as an aware UTC datetime: when a period becomes due."""
    return datetime.combine(day, time(0, 0), tzinfo=BEIJING).astimezone(UTC)


def external_agreement_no(order_id: str, attempt: int) -> str:
    """The merchant's agreement number (external_agreement_no: letters and digits, at most 32)
    of the order's `attempt`-th withholding signing: LSE + the order id's hex + 2 digits."""
    if not 1 <= attempt <= 99:
        raise ValueError("withholding signing attempts run from 1 to 99")
    prefix, _, body = order_id.partition("_")
    if prefix != "lse" or not re.fullmatch(r"[0-9a-f]{27}", body):
        raise ValueError(f"{order_id!r} is not a lease order id")
    return f"{_EXTERNAL_PREFIX}{body.upper()}{attempt:02d}"


def order_of_external_agreement_no(number: str) -> tuple[str, int] | None:
    """(order id, attempt) of an external agreement number, or None for a foreign number."""
    match = re.fullmatch(rf"{_EXTERNAL_PREFIX}([0-9A-F]{{27}})([0-9]{{2}})", number)
    if match is None:
        return None
    return f"lse_{match.group(1).lower()}", int(match.group(2))


# -- the request -----------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, str_strip_whitespace=True)


class RentPeriodBody(_Strict):
    """One period of the rent plan: when it is due and what it costs."""

    due_date: str = Field(description="YYYY-MM-DD (Beijing calendar day from which it is collected)")
    amount: str = Field(description='decimal string, e.g. "199.00"')


class LeaseOrderBody(_Strict):
    """同步前置订单: the order number, the number of lease periods, the total, the rent plan."""

    out_order_no: str = Field(pattern=OUT_ORDER_NO, description="the caller's order number (idempotency key)")
    buyer_id: str = Field(description="the lessee's Alipay user id (2088 + 12 digits)")
    title: str = Field(min_length=1, max_length=64, description="what is leased, shown to the user")
    total_amount: str = Field(description="decimal string: the sum of the periods' amounts")
    currency: str = LEASE_CURRENCY
    period_count: int = Field(ge=1, le=MAX_PERIODS, description="租赁期数")
    periods: list[RentPeriodBody] = Field(min_length=1, max_length=MAX_PERIODS)


@dataclass(frozen=True, slots=True)
class LeaseOrderRequest:
    """A checked pre-order."""

    out_order_no: str
    buyer_id: str
    title: str
    total: Money
    periods: tuple[tuple[date, Money], ...]

    def canonical(self) -> dict[str, Any]:
        return {
            "out_order_no": self.out_order_no,
            "buyer_id": self.buyer_id,
            "title": self.title,
            "total_amount": str(self.total),
            "currency": self.total.currency,
            "periods": [{"due_date": d.isoformat(), "amount": str(a)} for d, a in self.periods],
        }


def check_order(body: LeaseOrderBody) -> LeaseOrderRequest:
    """The rules of a pre-order beyond its shape: CNY, a real Alipay user, one amount per
    period, strictly later due dates, and periods summing to the total."""
    currency = check_currency(body.currency)
    if currency != LEASE_CURRENCY:
        raise InvalidArgument(
            f"lease orders are collected in {LEASE_CURRENCY} only",
            field="currency",
            code="UNSUPPORTED_CURRENCY",
        )
    if not ALIPAY_USER_ID.match(body.buyer_id):
        raise InvalidArgument("buyer_id must be an Alipay user id: 2088 and 12 digits", field="buyer_id")
    total = Money.parse(body.total_amount, currency, field="total_amount")
    if body.period_count != len(body.periods):
        raise InvalidArgument(
            f"period_count is {body.period_count} but the rent plan has {len(body.periods)} periods",
            field="period_count",
            code="PERIOD_COUNT_MISMATCH",
        )
    periods: list[tuple[date, Money]] = []
    for index, period in enumerate(body.periods):
        where = f"periods[{index}]"
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", period.due_date):
                raise ValueError
            due = date.fromisoformat(period.due_date)
        except ValueError:
            raise InvalidArgument(
                f"{where}.due_date must be a date YYYY-MM-DD", field=f"{where}.due_date"
            ) from None
        if periods and due <= periods[-1][0]:
            raise InvalidArgument(
                f"{where}.due_date must be later than the period before it",
                field=f"{where}.due_date",
                code="DUE_DATES_NOT_INCREASING",
            )
        periods.append((due, Money.parse(period.amount, currency, field=f"{where}.amount")))
    planned = sum((amount.minor for _, amount in periods), 0)
    if planned != total.minor:
        raise InvalidArgument(
            f"the periods sum to {Money(planned, currency)}, not the total {total}",
            field="total_amount",
            code="RENT_PLAN_SUM_MISMATCH",
        )
    return LeaseOrderRequest(body.out_order_no, body.buyer_id, body.title, total, tuple(periods))


# -- the parts of an order -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RentPeriod:
    """One period of the rent plan and its collection."""

    no: int
    due_date: date
    amount: Money
    status: PeriodStatus = PeriodStatus.PENDING
    attempts: int = 0  # deduction attempts started so far
    payment_id: str | None = None  # the latest attempt's payment
    last_failure_code: str | None = None
    last_failure_message: str | None = None
    # when the worker may start the next attempt: the due moment while pending, the retry time
    # after a failure; None while collecting, once final, or when retries ran out
    next_attempt_at: datetime | None = None
    attempt_started_at: datetime | None = None
    paid_at: datetime | None = None
    trade_no: str | None = None

    @property
    def due_at(self) -> datetime:
        return due_moment(self.due_date)

    def moved(self, target: PeriodStatus, **changes: Any) -> RentPeriod:
        PERIOD_STATES.move(self.status, target)
        return replace(self, status=target, **changes)


@dataclass(frozen=True, slots=True)
class Contract:
    """The pre-signed contract (前置合同) of the order, signed by every party its template names."""

    status: ContractStatus = ContractStatus.UNSIGNED
    template_id: str | None = None
    contract_no: str | None = None
    sign_url: str | None = None  # the lessee's signing URL
    party_urls: Mapping[str, str] = field(default_factory=dict)  # party -> its signing URL
    required_parties: tuple[str, ...] = ()
    signed_parties: tuple[str, ...] = ()
    attempts: int = 0
    signed_at: datetime | None = None
    finalised_at: datetime | None = None
    failure_code: str | None = None

    def moved(self, target: ContractStatus, **changes: Any) -> Contract:
        CONTRACT_STATES.move(self.status, target)
        return replace(self, status=target, **changes)

    @property
    def is_signed(self) -> bool:
        return self.status in (ContractStatus.SIGNED, ContractStatus.FINALISED)


@dataclass(frozen=True, slots=True)
class UnsignRefusal:
    """异步解约确认: the merchant refused the user's unsign request (operation REFUSE)."""

    operation: AsyncUnsignOperation
    service_user: str  # 服务用户
    user_debt: Money  # 用户欠款
    reason: str  # 解约理由
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation.value,
            "service_user": self.service_user,
            "user_debt": str(self.user_debt),
            "currency": self.user_debt.currency,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnsignRefusal:
        return cls(
            AsyncUnsignOperation(data["operation"]),
            data["service_user"],
            Money.parse(data["user_debt"], data["currency"], allow_zero=True),
            data["reason"],
            datetime.fromisoformat(data["at"]),
        )


@dataclass(frozen=True, slots=True)
class Agreement:
    """The withholding agreement (代扣协议) the rent is collected under."""

    status: AgreementStatus = AgreementStatus.NONE
    attempt: int = 0
    external_agreement_no: str | None = None
    agreement_no: str | None = None
    sign_url: str | None = None
    alipay_user_id: str | None = None
    signed_at: datetime | None = None
    unsigned_at: datetime | None = None
    unsign_reason: str | None = None
    unsign_refusals: tuple[UnsignRefusal, ...] = ()

    def moved(self, target: AgreementStatus, **changes: Any) -> Agreement:
        AGREEMENT_STATES.move(self.status, target)
        return replace(self, status=target, **changes)


@dataclass(frozen=True, slots=True)
class Plan:
    """The withholding plan: active until cancelled (取消代扣计划) with a reason."""

    status: PlanStatus = PlanStatus.ACTIVE
    cancel_reason: CancelReason | None = None
    cancel_note: str | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Closure:
    """Why and on what ground the order was closed."""

    reason: str
    basis: str  # "fulfilled", "lease_to_sale" or "return_success"
    at: datetime


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Seconds to wait after the 1st, 2nd, ... failed attempt of a period before the next."""

    steps: tuple[int, ...]

    def next_attempt_at(self, attempts: int, failed_at: datetime) -> datetime | None:
        if 1 <= attempts <= len(self.steps):
            return failed_at + timedelta(seconds=self.steps[attempts - 1])
        return None


# -- the order -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LeaseOrder:
    """A lease order (合约) and everything that belongs to it. `version` guards concurrent saves."""

    id: str
    app_id: str
    out_order_no: str
    request_hash: str
    channel: str
    buyer_id: str
    title: str
    total: Money
    periods: tuple[RentPeriod, ...]
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    contract: Contract = field(default_factory=Contract)
    agreement: Agreement = field(default_factory=Agreement)
    plan: Plan = field(default_factory=Plan)
    channel_order_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    closure: Closure | None = None
    version: int = 0

    @classmethod
    def new(
        cls,
        order_id: str,
        app_id: str,
        request: LeaseOrderRequest,
        request_hash: str,
        channel: str,
        at: datetime,
    ) -> LeaseOrder:
        periods = tuple(
            RentPeriod(no, due, amount, next_attempt_at=due_moment(due))
            for no, (due, amount) in enumerate(request.periods, start=1)
        )
        return cls(
            order_id,
            app_id,
            request.out_order_no,
            request_hash,
            channel,
            request.buyer_id,
            request.title,
            request.total,
            periods,
            OrderStatus.CREATED,
            at,
            at,
        )

    # -- reading ---------------------------------------------------------------------------
    def period(self, no: int) -> RentPeriod:
        for p in self.periods:
            if p.no == no:
                return p
        raise InvalidArgument(f"order {self.id} has no period {no}", field="period")

    @property
    def paid(self) -> Money:
        return Money(
            sum(p.amount.minor for p in self.periods if p.status is PeriodStatus.PAID), self.total.currency
        )

    @property
    def outstanding(self) -> Money:
        return Money(
            sum(p.amount.minor for p in self.periods if p.status in UNPAID | {PeriodStatus.COLLECTING}),
            self.total.currency,
        )

    @property
    def fulfilled(self) -> bool:
        """用户履约完成: every period paid."""
        return all(p.status is PeriodStatus.PAID for p in self.periods)

    @property
    def live_periods(self) -> list[int]:
        return [p.no for p in self.periods if p.status is PeriodStatus.COLLECTING]

    @property
    def open(self) -> bool:
        return self.status is OrderStatus.SYNCED

    def collecting_allowed(self) -> bool:
        """Rent is withheld only under a signed contract and a signed agreement, plan active."""
        return (
            self.open
            and self.plan.status is PlanStatus.ACTIVE
            and self.contract.is_signed
            and self.agreement.status is AgreementStatus.SIGNED
        )

    def due_periods(self, now: datetime) -> list[RentPeriod]:
        """Periods whose next attempt may start now (never one with a live attempt)."""
        if not self.collecting_allowed():
            return []
        return [
            p
            for p in self.periods
            if p.status in UNPAID and p.next_attempt_at is not None and p.next_attempt_at <= now
        ]

    @property
    def ready_to_finalise(self) -> bool:
        """落签 comes after the withholding agreement is signed, on a signed contract."""
        return (
            self.open
            and self.contract.status is ContractStatus.SIGNED
            and self.agreement.status is AgreementStatus.SIGNED
        )

    # -- moving ----------------------------------------------------------------------------
    def _with(self, at: datetime, **changes: Any) -> LeaseOrder:
        return replace(self, updated_at=at, **changes)

    def _require_open(self, what: str) -> None:
        if not self.open:
            raise LeaseStateConflict(
                f"cannot {what}: the order is {self.status.value} (only a synced, open order can)",
                field="status",
            )

    def synced(self, channel_order_id: str | None, at: datetime) -> LeaseOrder:
        if self.status is OrderStatus.SYNCED:
            return self
        ORDER_STATES.move(self.status, OrderStatus.SYNCED)
        return self._with(at, status=OrderStatus.SYNCED, channel_order_id=channel_order_id)

    def sync_failed(self, code: str, message: str | None, at: datetime) -> LeaseOrder:
        ORDER_STATES.move(self.status, OrderStatus.SYNC_FAILED)
        return self._with(at, status=OrderStatus.SYNC_FAILED, failure_code=code, failure_message=message)

    def check_contract_signing(self) -> None:
        self._require_open("start contract signing")
        if self.contract.is_signed:
            raise LeaseStateConflict(
                f"the contract is already {self.contract.status.value}", field="contract"
            )

    def contract_signing(
        self,
        template_id: str,
        contract_no: str,
        sign_url: str | None,
        party_urls: Mapping[str, str],
        required_parties: Sequence[str],
        at: datetime,
    ) -> LeaseOrder:
        self.check_contract_signing()
        same = self.contract.status is ContractStatus.SIGNING and self.contract.contract_no == contract_no
        contract = self.contract.moved(
            ContractStatus.SIGNING,
            template_id=template_id,
            contract_no=contract_no,
            sign_url=sign_url,
            party_urls=dict(party_urls),
            required_parties=tuple(required_parties),
            signed_parties=self.contract.signed_parties if same else (),
            attempts=self.contract.attempts + (0 if same else 1),
            failure_code=None,
        )
        return self._with(at, contract=contract)

    def contract_party_signed(self, contract_no: str, party: str, at: datetime) -> LeaseOrder:
        """A party signed; the contract is signed once every required party has. A signature
        on another contract number, or once the contract is no longer being signed, changes
        nothing (a late or repeated callback)."""
        c = self.contract
        if (
            c.status is not ContractStatus.SIGNING
            or c.contract_no != contract_no
            or party in c.signed_parties
        ):
            return self
        signed = (*c.signed_parties, party)
        if set(c.required_parties) <= set(signed):
            contract = c.moved(ContractStatus.SIGNED, signed_parties=signed, signed_at=at)
        else:
            contract = replace(c, signed_parties=signed)
        return self._with(at, contract=contract)

    def contract_sign_failed(
        self, contract_no: str, target: ContractStatus, code: str, at: datetime
    ) -> LeaseOrder:
        if target not in (ContractStatus.REFUSED, ContractStatus.EXPIRED):
            raise ValueError("a contract signing fails as refused or expired")
        c = self.contract
        if c.status is not ContractStatus.SIGNING or c.contract_no != contract_no:
            return self
        return self._with(at, contract=c.moved(target, failure_code=code))

    def contract_finalised(self, at: datetime) -> LeaseOrder:
        if self.contract.status is ContractStatus.FINALISED:
            return self
        if not self.ready_to_finalise:
            raise LeaseStateConflict(
                "落签 needs a signed contract and a signed withholding agreement on an open order",
                field="contract",
            )
        return self._with(at, contract=self.contract.moved(ContractStatus.FINALISED, finalised_at=at))

    def check_agreement_signing(self) -> None:
        self._require_open("start withholding signing")
        if self.plan.status is PlanStatus.CANCELLED:
            raise LeaseStateConflict("the withholding plan was cancelled", field="plan")
        if self.agreement.status is AgreementStatus.SIGNED:
            raise LeaseStateConflict("the withholding agreement is already signed", field="agreement")

    def next_agreement_attempt(self) -> tuple[int, str]:
        attempt = self.agreement.attempt + 1
        return attempt, external_agreement_no(self.id, attempt)

    def agreement_signing(self, attempt: int, sign_url: str, at: datetime) -> LeaseOrder:
        self.check_agreement_signing()
        agreement = self.agreement.moved(
            AgreementStatus.SIGNING,
            attempt=attempt,
            external_agreement_no=external_agreement_no(self.id, attempt),
            sign_url=sign_url,
        )
        return self._with(at, agreement=agreement)

    def agreement_signed(
        self, external_no: str, agreement_no: str, alipay_user_id: str | None, at: datetime
    ) -> LeaseOrder:
        """The channel says the user signed (notification or query). Repeats change nothing."""
        a = self.agreement
        if a.status is AgreementStatus.SIGNED:
            return self
        if a.status is not AgreementStatus.SIGNING:
            return self  # a signing that ended before its confirmation arrived
        owner = order_of_external_agreement_no(external_no)
        if owner is None or owner[0] != self.id:
            raise ValueError(f"agreement {external_no} is not this order's")
        agreement = a.moved(
            AgreementStatus.SIGNED,
            attempt=owner[1],
            external_agreement_no=external_no,
            agreement_no=agreement_no,
            alipay_user_id=alipay_user_id,
            signed_at=at,
        )
        return self._with(at, agreement=agreement)

    def check_unsign(self) -> None:
        if self.agreement.status is not AgreementStatus.SIGNED:
            raise LeaseStateConflict(
                f"the withholding agreement is {self.agreement.status.value}, not signed", field="agreement"
            )

    def agreement_unsigned(self, agreement_no: str | None, reason: str, at: datetime) -> LeaseOrder:
        a = self.agreement
        if a.status is not AgreementStatus.SIGNED:
            return self
        if agreement_no is not None and a.agreement_no is not None and agreement_no != a.agreement_no:
            return self  # another agreement of this user
        return self._with(
            at, agreement=a.moved(AgreementStatus.UNSIGNED, unsigned_at=at, unsign_reason=reason)
        )

    def unsign_refused(self, refusal: UnsignRefusal) -> LeaseOrder:
        self.check_unsign()
        agreement = replace(self.agreement, unsign_refusals=(*self.agreement.unsign_refusals, refusal))
        return self._with(refusal.at, agreement=agreement)

    def check_plan_cancel(self) -> None:
        self._require_open("cancel the withholding plan")
        if self.plan.status is PlanStatus.CANCELLED:
            raise LeaseStateConflict("the withholding plan is already cancelled", field="plan")

    def plan_cancelled(self, reason: CancelReason, note: str, at: datetime) -> LeaseOrder:
        self.check_plan_cancel()
        PLAN_STATES.move(self.plan.status, PlanStatus.CANCELLED)
        periods = tuple(
            p.moved(PeriodStatus.CANCELLED, next_attempt_at=None) if p.status in UNPAID else p
            for p in self.periods
        )
        plan = Plan(PlanStatus.CANCELLED, reason, note, at)
        return self._with(at, plan=plan, periods=periods)

    def close_blockers(self) -> list[tuple[str, str]]:
        """The unmet preconditions of closing, as (name, what is wrong); empty: may close."""
        blockers: list[tuple[str, str]] = []
        if self.status is not OrderStatus.SYNCED:
            blockers.append(("synced", f"the order is {self.status.value}, not synced with the channel"))
            return blockers
        if self.live_periods:
            listed = ", ".join(str(n) for n in self.live_periods)
            blockers.append(("no_deduction_in_flight", f"a deduction is in flight for period {listed}"))
        cancelled_for_closing = (
            self.plan.status is PlanStatus.CANCELLED and self.plan.cancel_reason in CLOSING_REASONS
        )
        if not self.fulfilled and not cancelled_for_closing:
            unpaid = ", ".join(str(p.no) for p in self.periods if p.status is not PeriodStatus.PAID)
            why = (
                f"the plan was cancelled for {self.plan.cancel_reason.value}"
                if self.plan.cancel_reason is not None
                else "the withholding plan is active"
            )
            blockers.append(
                (
                    "fulfilled_or_plan_cancelled",
                    f"the lease is not fulfilled (period {unpaid} unpaid) and {why}: closing needs "
                    "every period paid, or the plan cancelled for lease-to-sale or a successful return",
                )
            )
        return blockers

    def check_close(self) -> str:
        """The ground the order may close on; raises ClosePreconditionFailed naming the first
        unmet precondition."""
        blockers = self.close_blockers()
        if blockers:
            name, message = blockers[0]
            raise ClosePreconditionFailed(message, field=name)
        if self.fulfilled:
            return "fulfilled"
        assert self.plan.cancel_reason is not None
        return self.plan.cancel_reason.value

    def closed(self, reason: str, at: datetime) -> LeaseOrder:
        basis = self.check_close()
        ORDER_STATES.move(self.status, OrderStatus.CLOSED)
        return self._with(at, status=OrderStatus.CLOSED, closure=Closure(reason, basis, at))

    # -- collection ------------------------------------------------------------------------
    def with_period(self, period: RentPeriod, at: datetime) -> LeaseOrder:
        return self._with(at, periods=tuple(period if p.no == period.no else p for p in self.periods))

    def start_attempt(self, no: int, at: datetime) -> tuple[LeaseOrder, RentPeriod]:
        """A new deduction attempt of period `no`: only from pending or failed, only while
        collecting is allowed, so one period never has two live attempts."""
        period = self.period(no)
        if not self.collecting_allowed():
            raise LeaseStateConflict(f"rent of order {self.id} cannot be collected now", field="status")
        if period.status not in UNPAID:
            raise LeaseStateConflict(f"period {no} is {period.status.value}", field="period")
        moved = period.moved(
            PeriodStatus.COLLECTING, attempts=period.attempts + 1, attempt_started_at=at, next_attempt_at=None
        )
        return self.with_period(moved, at), moved

    def attempt_paid(
        self, no: int, attempt: int, payment_id: str, trade_no: str | None, at: datetime
    ) -> LeaseOrder:
        period = self.period(no)
        if period.status is not PeriodStatus.COLLECTING or period.attempts != attempt:
            return self
        moved = period.moved(
            PeriodStatus.PAID, payment_id=payment_id, trade_no=trade_no, paid_at=at, next_attempt_at=None
        )
        return self.with_period(moved, at)

    def attempt_failed(
        self,
        no: int,
        attempt: int,
        payment_id: str | None,
        code: str,
        message: str | None,
        at: datetime,
        schedule: RetrySchedule,
    ) -> LeaseOrder:
        """The attempt failed: retried per `schedule`, or cancelled when the plan was
        cancelled meanwhile."""
        period = self.period(no)
        if period.status is not PeriodStatus.COLLECTING or period.attempts != attempt:
            return self
        failure = {"payment_id": payment_id, "last_failure_code": code, "last_failure_message": message}
        if self.plan.status is PlanStatus.CANCELLED:
            moved = period.moved(PeriodStatus.CANCELLED, next_attempt_at=None, **failure)
        else:
            moved = period.moved(
                PeriodStatus.FAILED, next_attempt_at=schedule.next_attempt_at(attempt, at), **failure
            )
        return self.with_period(moved, at)

    def attempt_pending(self, no: int, attempt: int, payment_id: str, at: datetime) -> LeaseOrder:
        """The attempt's payment exists and is not final yet: remember which payment it is."""
        period = self.period(no)
        if (
            period.status is not PeriodStatus.COLLECTING
            or period.attempts != attempt
            or period.payment_id == payment_id
        ):
            return self
        return self.with_period(replace(period, payment_id=payment_id), at)


def attempt_request_no(order_id: str, period_no: int, attempt: int) -> str:
    """The out_request_no of a deduction attempt: fixed by (order, period, attempt), so however
    often it is submitted it is one payment (one out_trade_no at Alipay); '/' keeps callers'
    numbers out of this space."""
    return f"lease/{order_id}/{period_no}/{attempt}"
