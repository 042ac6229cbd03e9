"""The parts of a lease order: its rent periods, the contract, the withholding agreement (with
the refused unsign requests), the plan and the closure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from core.lease.plan import due_moment
from core.lease.status import (
    AGREEMENT_STATES,
    CONTRACT_STATES,
    PERIOD_STATES,
    AgreementStatus,
    AsyncUnsignOperation,
    CancelReason,
    ContractStatus,
    PeriodStatus,
    PlanStatus,
)
from core.money import Money


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
    # the template lets rent be withheld once signed, before 落签 (otherwise 落签 comes first)
    rent_before_finalise: bool = False

    def moved(self, target: ContractStatus, **changes: Any) -> Contract:
        CONTRACT_STATES.move(self.status, target)
        return replace(self, status=target, **changes)

    def party_signed(self, contract_no: str, party: str, at: datetime) -> Contract:
        """A party signed; the contract is signed once every required party has. A signature
        on another contract number, or once the contract is no longer being signed, changes
        nothing (a late or repeated callback)."""
        if (
            self.status is not ContractStatus.SIGNING
            or self.contract_no != contract_no
            or party in self.signed_parties
        ):
            return self
        signed = (*self.signed_parties, party)
        if set(self.required_parties) <= set(signed):
            return self.moved(ContractStatus.SIGNED, signed_parties=signed, signed_at=at)
        return replace(self, signed_parties=signed)

    @property
    def is_signed(self) -> bool:
        return self.status in (ContractStatus.SIGNED, ContractStatus.FINALISED)

    @property
    def rent_may_start(self) -> bool:
        """落签 before rent (seed 000): finalised, or signed under a template that allows it."""
        return self.status is ContractStatus.FINALISED or (
            self.status is ContractStatus.SIGNED and self.rent_before_finalise
        )


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
    basis: str  # "fulfilled", "lease_to_sale", "return_success", or "sync_failed" (nothing at the channel)
    at: datetime
