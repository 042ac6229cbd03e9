"""Ports of lease orders: the lease operations a channel offers beyond the four ports, the
events its callbacks carry, and the storage the lease use cases need."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.status import CancelReason
from ports.channels import ChannelStatus, Exchange

# The Channel.extensions key of a LeaseChannelPort.
LEASE_EXTENSION = "lease"
# SigningRequest.kind values of a lease channel's signing port.
CONTRACT_SIGNING = "contract"  # 前置合同签署: details template_id, channel_order_id, buyer_id
WITHHOLDING_SIGNING = "withholding"  # 代扣签约: details external_agreement_no, buyer_id, agreement_no
# The seed's query type of 查询订单信息.
ORDER_FULL_INFO = "orderFullInfo"


class LeaseEventKind(enum.StrEnum):
    """ChannelEvent kinds a lease channel's verified callbacks carry."""

    # data: external_agreement_no, agreement_no, alipay_user_id, sign_time
    AGREEMENT_SIGNED = "lease.agreement_signed"
    # data: external_agreement_no, agreement_no, alipay_user_id
    AGREEMENT_UNSIGNED = "lease.agreement_unsigned"
    # data: order_id (ours), contract_no, party, status ("signed", "refused", "expired")
    CONTRACT_SIGNATURE = "lease.contract_signature"


@dataclass(frozen=True, slots=True)
class LeaseAnswer:
    """A lease operation's outcome: SUCCEEDED (done; `data` carries what the channel said),
    FAILED (refused with `code`: nothing happened), UNKNOWN (it may have happened: repeat it)."""

    status: ChannelStatus
    code: str | None = None
    message: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    exchanges: tuple[Exchange, ...] = ()


@runtime_checkable
class LeaseChannelPort(Protocol):
    """The lease operations of seed 000 that are not signing, payment, query or notification.
    Each is idempotent at the channel: repeating one after an UNKNOWN answer is safe."""

    async def sync_order(self, order: LeaseOrder) -> LeaseAnswer:
        """同步前置订单: the pre-order with its rent plan; data: channel_order_id."""
        ...

    async def query_order(self, order: LeaseOrder, query_type: str) -> LeaseAnswer:
        """查询订单信息 (query type orderFullInfo): the channel's view of the order."""
        ...

    async def finalise_contract(self, order: LeaseOrder) -> LeaseAnswer:
        """落签: seal the signed contract once the withholding agreement is signed."""
        ...

    async def unsign_agreement(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        """解除代扣: end the withholding agreement."""
        ...

    async def confirm_async_unsign(self, order: LeaseOrder, refusal: UnsignRefusal) -> LeaseAnswer:
        """异步解约确认: answer the user's unsign request (operation REFUSE, with the debt)."""
        ...

    async def cancel_plan(self, order: LeaseOrder, reason: CancelReason, note: str) -> LeaseAnswer:
        """取消代扣计划: stop withholding the remaining periods."""
        ...

    async def close_order(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        """关闭订单."""
        ...


@dataclass(frozen=True, slots=True)
class StaleAttempt:
    """A period left collecting since `started_at` (a crash may have cut its submission)."""

    order_id: str
    period_no: int
    attempt: int
    started_at: datetime


class LeaseRepository(Protocol):
    """Lease orders (with their periods) within one unit of work."""

    async def add(self, order: LeaseOrder) -> None:
        """Insert; raises ports.storage.DuplicateRequest when (app_id, out_order_no) exists."""
        ...

    async def get(self, order_id: str) -> LeaseOrder | None: ...

    async def get_for_update(self, order_id: str) -> LeaseOrder | None:
        """Read and lock the order until the transaction ends (where the database can)."""
        ...

    async def by_out_order_no(self, app_id: str, out_order_no: str) -> LeaseOrder | None: ...

    async def save(self, order: LeaseOrder, *, expected_version: int) -> LeaseOrder:
        """Update the order and its periods; returns it with the next version. Raises
        ports.storage.ConcurrentUpdate when the stored version is not `expected_version`."""
        ...

    async def with_due_periods(self, now: datetime, limit: int) -> list[str]:
        """Ids of open orders with a period whose next attempt may start by `now`."""
        ...

    async def unsynced(self, before: datetime, limit: int) -> list[str]:
        """Ids of orders still `created` (never confirmed by the channel) since before `before`."""
        ...

    async def ready_to_finalise(self, limit: int) -> list[str]:
        """Ids of open orders whose contract is signed and agreement signed (落签 due)."""
        ...

    async def stale_attempts(self, before: datetime, limit: int) -> list[StaleAttempt]:
        """Periods collecting since before `before`."""
        ...

    async def claimed(self, before: datetime, limit: int) -> list[str]:
        """Ids of orders claimed for a channel operation (closing, a plan cancelling, an
        agreement unsigning) and left so since before `before` (an unknown answer, a crash)."""
        ...
