"""The lease channel's verified callbacks (ChannelEvents that are not about a payment): the
withholding agreement signed or unsigned, a contract party's signature."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.lease.numbers import order_of_external_agreement_no
from core.usecases.lease.book import LeaseBook
from core.usecases.lease.signing import ContractSigning
from core.usecases.lease.withholding import WithholdingService
from ports.channels import ChannelEvent
from ports.lease import LeaseEventKind

log = logging.getLogger("paygate.lease")


def _order_id_of(kind: LeaseEventKind, data: Mapping[str, Any]) -> str:
    """Our order id: given by a contract signature, found in an agreement's external number."""
    if kind is LeaseEventKind.CONTRACT_SIGNATURE:
        return str(data.get("order_id") or "")
    owner = order_of_external_agreement_no(str(data.get("external_agreement_no") or ""))
    return owner[0] if owner else ""


class LeaseChannelEvents:
    """The `ChannelEventHandler` of lease orders: hands each event to the use case it is about."""

    def __init__(self, book: LeaseBook, contract: ContractSigning, withholding: WithholdingService) -> None:
        self.book = book
        self.contract = contract
        self.withholding = withholding

    async def on_channel_event(self, channel: str, event: ChannelEvent) -> bool:
        """Apply a verified lease callback; repeats and callbacks about unknown orders change
        nothing (they are acknowledged, so the channel stops repeating them)."""
        try:
            kind = LeaseEventKind(event.kind)
        except ValueError:
            return False
        data = event.data
        order_id = _order_id_of(kind, data)
        order = await self.book.find(order_id) if order_id else None
        if order is None or order.channel != channel:
            log.warning(
                "lease callback about an unknown order", extra={"channel": channel, "kind": kind.value}
            )
            return True
        if kind is LeaseEventKind.AGREEMENT_SIGNED:
            await self.withholding.signed(
                order.id,
                str(data["external_agreement_no"]),
                str(data.get("agreement_no") or ""),
                data.get("alipay_user_id"),
                "notification",
            )
        elif kind is LeaseEventKind.AGREEMENT_UNSIGNED:
            await self.withholding.unsigned_at_channel(order, data)
        else:
            await self.contract.on_signature(order, data)
        return True
