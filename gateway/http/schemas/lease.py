"""Request bodies of the lease order operations (seed 000): contract and withholding signing,
unsign, plan cancellation, the async unsign confirmation and closing. The pre-order itself is
`core.lease.request.LeaseOrderBody`, checked by the lease rules."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from gateway.http.schemas.base import Body


class LeaseBody(Body):
    """The base of the lease bodies: the strict `Body`, and surrounding whitespace stripped from
    every string (as lease order numbers and reasons always were)."""

    model_config = ConfigDict(str_strip_whitespace=True)


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
    user_debt: str = Field(description='用户欠款: decimal string, e.g. "199.00" (may be "0.00")')
    reason: str = Field(min_length=1, max_length=256, description="解约理由")


class CloseBody(LeaseBody):
    reason: str = Field(min_length=1, max_length=256, description="关闭原因")
