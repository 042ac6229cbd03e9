"""Request bodies of the lease order operations (seed 000): the pre-order with its rent plan
(checked further by `core.lease.request.check_order`), contract and withholding signing, unsign,
plan cancellation, the async unsign confirmation and closing."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from core.lease.request import LEASE_CURRENCY, MAX_PERIODS, OUT_ORDER_NO
from gateway.http.schemas.base import Amount, Body


class LeaseBody(Body):
    """The base of the lease bodies: the strict `Body`, and surrounding whitespace stripped from
    every string (as lease order numbers and reasons always were)."""

    model_config = ConfigDict(str_strip_whitespace=True)


class RentPeriodBody(LeaseBody):
    """One period of the rent plan: when it is due and what it costs."""

    due_date: str = Field(description="YYYY-MM-DD (Beijing calendar day from which it is collected)")
    amount: Amount = Field(description='decimal string, e.g. "199.00"')


class LeaseOrderBody(LeaseBody):
    """同步前置订单: the order number, the number of lease periods, the total, the rent plan."""

    out_order_no: str = Field(pattern=OUT_ORDER_NO, description="the caller's order number (idempotency key)")
    buyer_id: str = Field(description="the lessee's Alipay user id (2088 + 12 digits)")
    title: str = Field(min_length=1, max_length=64, description="what is leased, shown to the user")
    total_amount: Amount = Field(description="decimal string: the sum of the periods' amounts")
    currency: str = LEASE_CURRENCY
    period_count: int = Field(ge=1, le=MAX_PERIODS, description="租赁期数")
    periods: list[RentPeriodBody] = Field(min_length=1, max_length=MAX_PERIODS)


class ContractSignBody(LeaseBody):
    """前置合同签署: which contract template to sign this order with."""

    template_id: str = Field(min_length=1, max_length=64, description="the channel's contract template id")


class WithholdingSignBody(LeaseBody):
    return_url: str | None = Field(
        default=None, max_length=512, description="where the channel sends the user after signing"
    )


class UnsignBody(LeaseBody):
    reason: str = Field(min_length=1, max_length=256, description="why withholding ends (解除代扣)")


class CancelPlanBody(LeaseBody):
    """取消代扣计划: lease_to_sale (租转售) and return_success (退租成功) later allow closing."""

    reason: Literal["lease_to_sale", "return_success", "other"]
    note: str = Field(min_length=1, max_length=256, description="取消理由")


class UnsignConfirmationBody(LeaseBody):
    """异步解约确认: refuse the user's request to unsign, e.g. while rent is owed."""

    operation: Literal["REFUSE"] = Field(description="the seed's operation: REFUSE")
    service_user: str = Field(min_length=1, max_length=64, description="服务用户: who handled the request")
    user_debt: Amount = Field(description='用户欠款: decimal string, e.g. "199.00" (may be "0.00")')
    reason: str = Field(min_length=1, max_length=256, description="解约理由")


class CloseBody(LeaseBody):
    reason: str = Field(min_length=1, max_length=256, description="关闭原因")
