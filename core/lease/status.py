"""The states of a lease order and of its contract, withholding agreement, plan and periods,
with the state machine of each."""

from __future__ import annotations

import enum

from core.state import StateMachine


class OrderStatus(enum.StrEnum):
    CREATED = "created"  # stored; the channel has not confirmed the pre-order yet
    SYNCED = "synced"  # the channel holds the pre-order (同步前置订单 done)
    SYNC_FAILED = "sync_failed"  # the channel refused the pre-order
    # claimed for 关闭订单: no deduction may start; the channel's answer completes the close
    # (closed) or undoes it (synced); an unknown answer leaves it to the lease worker
    CLOSING = "closing"
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
    UNSIGNING = "unsigning"  # claimed for 解除代扣: no deduction may start until it is answered
    UNSIGNED = "unsigned"  # 解约: ended by us or by the user


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLING = "cancelling"  # claimed for 取消代扣计划: no deduction may start until answered
    CANCELLED = "cancelled"  # 取消代扣计划


class CancelReason(enum.StrEnum):
    LEASE_TO_SALE = "lease_to_sale"  # 租转售: the user buys the goods
    RETURN_SUCCESS = "return_success"  # 退租成功: the goods came back
    OTHER = "other"


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
        OrderStatus.SYNCED: {OrderStatus.CLOSING},
        OrderStatus.CLOSING: {OrderStatus.CLOSED, OrderStatus.SYNCED},
        # the channel holds nothing of a refused pre-order: it is closed here alone
        OrderStatus.SYNC_FAILED: {OrderStatus.CLOSED},
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
        AgreementStatus.SIGNED: {AgreementStatus.UNSIGNING, AgreementStatus.UNSIGNED},
        AgreementStatus.UNSIGNING: {AgreementStatus.UNSIGNED, AgreementStatus.SIGNED},
        AgreementStatus.UNSIGNED: {AgreementStatus.SIGNING},
    },
)
PLAN_STATES: StateMachine[PlanStatus] = StateMachine(
    "withholding plan",
    {
        PlanStatus.ACTIVE: {PlanStatus.CANCELLING},
        PlanStatus.CANCELLING: {PlanStatus.CANCELLED, PlanStatus.ACTIVE},
        PlanStatus.CANCELLED: set(),
    },
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
