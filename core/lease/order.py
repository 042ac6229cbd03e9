"""The lease order (合约) and every move of it: sync, contract signing and 落签, the withholding
agreement, the plan, closing (on the preconditions in `rules`), and the collection of each
period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.errors import InvalidArgument
from core.lease import rules
from core.lease.errors import LeaseStateConflict
from core.lease.numbers import external_agreement_no, order_of_external_agreement_no
from core.lease.parts import Agreement, Closure, Contract, Plan, RentPeriod, UnsignRefusal
from core.lease.plan import RetrySchedule, due_moment
from core.lease.request import LeaseOrderRequest
from core.lease.status import (
    ORDER_STATES,
    PLAN_STATES,
    UNPAID,
    AgreementStatus,
    CancelReason,
    ContractStatus,
    OrderStatus,
    PeriodStatus,
    PlanStatus,
)
from core.money import Money


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
        return self._sum({PeriodStatus.PAID})

    @property
    def outstanding(self) -> Money:
        return self._sum(UNPAID | {PeriodStatus.COLLECTING})

    def _sum(self, states: Set[PeriodStatus]) -> Money:
        return Money(sum(p.amount.minor for p in self.periods if p.status in states), self.total.currency)

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
        """Rent is withheld only on an open order, plan active, agreement signed (none claimed for
        closing, cancelling, unsigning), and a contract finalised (or its template's flag)."""
        return (
            self.open
            and self.plan.status is PlanStatus.ACTIVE
            and self.contract.rent_may_start
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

    def synced(self, channel_order_id: str | None, at: datetime) -> LeaseOrder:
        if self.status is OrderStatus.SYNCED:
            return self
        ORDER_STATES.move(self.status, OrderStatus.SYNCED)
        return self._with(at, status=OrderStatus.SYNCED, channel_order_id=channel_order_id)

    def sync_failed(self, code: str, message: str | None, at: datetime) -> LeaseOrder:
        ORDER_STATES.move(self.status, OrderStatus.SYNC_FAILED)
        return self._with(at, status=OrderStatus.SYNC_FAILED, failure_code=code, failure_message=message)

    def contract_signing(
        self,
        template_id: str,
        contract_no: str,
        sign_url: str | None,
        party_urls: Mapping[str, str],
        required_parties: Sequence[str],
        at: datetime,
        *,
        rent_before_finalise: bool = False,
    ) -> LeaseOrder:
        rules.check_contract_signing(self)
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
            rent_before_finalise=rent_before_finalise,
        )
        return self._with(at, contract=contract)

    def contract_party_signed(self, contract_no: str, party: str, at: datetime) -> LeaseOrder:
        """A party signed (`Contract.party_signed`); a late or repeated callback changes nothing."""
        contract = self.contract.party_signed(contract_no, party, at)
        return self if contract is self.contract else self._with(at, contract=contract)

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

    def next_agreement_attempt(self) -> tuple[int, str]:
        attempt = self.agreement.attempt + 1
        return attempt, external_agreement_no(self.id, attempt)

    def agreement_signing(self, attempt: int, sign_url: str, at: datetime) -> LeaseOrder:
        rules.check_agreement_signing(self)
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
        if a.status is not AgreementStatus.SIGNING:
            return self  # signed already, or a signing that ended before its confirmation arrived
        owner = order_of_external_agreement_no(external_no)
        if owner is None or owner[0] != self.id:
            raise ValueError(f"agreement {external_no} is not this order's")
        if not self.is_live_signing(external_no):
            return self  # an older signing: never the order's agreement (the use case unsigns it)
        agreement = a.moved(
            AgreementStatus.SIGNED,
            attempt=owner[1],
            external_agreement_no=external_no,
            agreement_no=agreement_no,
            alipay_user_id=alipay_user_id,
            signed_at=at,
        )
        return self._with(at, agreement=agreement)

    def is_live_signing(self, external_no: str) -> bool:
        """Whether `external_no` is the order's one live withholding signing (its latest attempt)."""
        return self.agreement.external_agreement_no == external_no

    def agreement_unsigning(self, reason: str, at: datetime) -> LeaseOrder:
        """Claim 解除代扣: no deduction starts until the channel's answer completes or undoes it."""
        rules.check_unsign(self)
        agreement = self.agreement.moved(AgreementStatus.UNSIGNING, unsign_reason=reason)
        return self._with(at, agreement=agreement)

    def unsign_undone(self, at: datetime) -> LeaseOrder:
        """The channel refused 解除代扣: the agreement stays in force."""
        if self.agreement.status is not AgreementStatus.UNSIGNING:
            return self
        return self._with(at, agreement=self.agreement.moved(AgreementStatus.SIGNED, unsign_reason=None))

    def agreement_unsigned(self, agreement_no: str | None, reason: str, at: datetime) -> LeaseOrder:
        a = self.agreement
        if a.status not in (AgreementStatus.SIGNED, AgreementStatus.UNSIGNING):
            return self
        if agreement_no is not None and a.agreement_no is not None and agreement_no != a.agreement_no:
            return self  # another agreement of this user
        return self._with(
            at, agreement=a.moved(AgreementStatus.UNSIGNED, unsigned_at=at, unsign_reason=reason)
        )

    def unsign_refused(self, refusal: UnsignRefusal) -> LeaseOrder:
        rules.check_unsign(self)
        agreement = replace(self.agreement, unsign_refusals=(*self.agreement.unsign_refusals, refusal))
        return self._with(refusal.at, agreement=agreement)

    def plan_cancelling(self, reason: CancelReason, note: str, at: datetime) -> LeaseOrder:
        """Claim 取消代扣计划: no deduction starts until the channel's answer completes or undoes it."""
        rules.check_plan_cancel(self, reason)
        if self.plan.status is PlanStatus.CANCELLED:
            return self  # a re-cancellation for another reason: nothing to block, nothing claimed
        PLAN_STATES.move(self.plan.status, PlanStatus.CANCELLING)
        return self._with(at, plan=Plan(PlanStatus.CANCELLING, reason, note))

    def plan_cancel_undone(self, at: datetime) -> LeaseOrder:
        """The channel refused the cancellation: the plan is active again."""
        if self.plan.status is not PlanStatus.CANCELLING:
            return self
        PLAN_STATES.move(self.plan.status, PlanStatus.ACTIVE)
        return self._with(at, plan=Plan())

    def plan_cancelled(self, reason: CancelReason, note: str, at: datetime) -> LeaseOrder:
        """The plan is cancelled (claimed first if active): the unpaid periods are never collected.
        One cancelled for `other` may be cancelled again for a ground closing needs."""
        order = self if self.plan.status is PlanStatus.CANCELLING else self.plan_cancelling(reason, note, at)
        if order.plan.status is PlanStatus.CANCELLING:
            PLAN_STATES.move(order.plan.status, PlanStatus.CANCELLED)
        periods = tuple(
            p.moved(PeriodStatus.CANCELLED, next_attempt_at=None) if p.status in UNPAID else p
            for p in order.periods
        )
        plan = Plan(PlanStatus.CANCELLED, reason, note, at)
        return order._with(at, plan=plan, periods=periods)

    def closing(self, reason: str, at: datetime) -> LeaseOrder:
        """Claim 关闭订单 on the seed's preconditions: no deduction starts from now on."""
        basis = rules.close_basis(self)
        ORDER_STATES.move(self.status, OrderStatus.CLOSING)
        return self._with(at, status=OrderStatus.CLOSING, closure=Closure(reason, basis, at))

    def close_undone(self, at: datetime) -> LeaseOrder:
        """The channel refused to close: the order is open again."""
        if self.status is not OrderStatus.CLOSING:
            return self
        ORDER_STATES.move(self.status, OrderStatus.SYNCED)
        return self._with(at, status=OrderStatus.SYNCED, closure=None)

    def closed(self, reason: str, at: datetime) -> LeaseOrder:
        """Closed: a claimed close (claimed here first if open), or a refused pre-order."""
        if self.status is OrderStatus.SYNC_FAILED:
            ORDER_STATES.move(self.status, OrderStatus.CLOSED)
            return self._with(at, status=OrderStatus.CLOSED, closure=Closure(reason, "sync_failed", at))
        order = self if self.status is OrderStatus.CLOSING else self.closing(reason, at)
        ORDER_STATES.move(order.status, OrderStatus.CLOSED)
        basis = order.closure.basis if order.closure is not None else rules.close_basis(order)
        return order._with(at, status=OrderStatus.CLOSED, closure=Closure(reason, basis, at))

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

    def _live_attempt(self, no: int, attempt: int) -> RentPeriod | None:
        """Period `no` while `attempt` is its live attempt; None once it moved on (a late or
        repeated answer about an older attempt changes nothing)."""
        period = self.period(no)
        if period.status is not PeriodStatus.COLLECTING or period.attempts != attempt:
            return None
        return period

    def attempt_paid(
        self, no: int, attempt: int, payment_id: str, trade_no: str | None, at: datetime
    ) -> LeaseOrder:
        period = self._live_attempt(no, attempt)
        if period is None:
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
        period = self._live_attempt(no, attempt)
        if period is None:
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
        period = self._live_attempt(no, attempt)
        if period is None or period.payment_id == payment_id:
            return self
        return self.with_period(replace(period, payment_id=payment_id), at)
