"""The contract: pre-signing (前置合同签署) from a template, the parties' signatures the channel
reports, and 落签 once the withholding agreement is signed too."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.errors import DomainError
from core.events import EventType
from core.flowlog import FlowNode, FlowOutcome
from core.lease.order import LeaseOrder
from core.lease.rules import check_contract_signing
from core.lease.status import ContractStatus
from core.usecases.lease.book import LeaseBook, contract_status, on_move
from core.usecases.lease.channel import LeaseChannelCalls
from ports.channels import SigningRequest
from ports.lease import CONTRACT_SIGNING

log = logging.getLogger("paygate.lease")


class ContractSigning:
    """Signs an order's contract with every party its template names, then seals it (落签).
    One 落签 at a time per order in this process; the channel deduplicates the rest."""

    def __init__(
        self, book: LeaseBook, calls: LeaseChannelCalls, *, rent_before_finalise: frozenset[str] = frozenset()
    ) -> None:
        self.book = book
        self.calls = calls
        self.finalising: set[str] = set()
        # templates whose rent may start before 落签 (LeasePolicy.rent_before_finalise)
        self.rent_before_finalise = rent_before_finalise

    async def start(self, order_id: str, app_id: str, template_id: str) -> LeaseOrder:
        """The channel's signing URL(s) of the contract made from `template_id` for this order."""
        order = await self.book.get(order_id, app_id)
        check_contract_signing(order)
        request = SigningRequest(
            order.id,
            app_id,
            CONTRACT_SIGNING,
            {
                "template_id": template_id,
                "channel_order_id": order.channel_order_id,
                "buyer_id": order.buyer_id,
            },
        )
        result = await self.calls.sign(
            order, "contract signing", self.calls.signing(order).start_signing(request)
        )
        contract_no = result.agreement_ref or ""
        signers = [s for s in result.raw.get("signers") or () if isinstance(s, dict)]
        party_urls = {str(s["party"]): str(s["sign_url"]) for s in signers}
        parties = list(party_urls) or ["lessee"]
        return await self.book.change(
            order_id,
            lambda o, at: (
                o
                if o.contract.status is ContractStatus.SIGNING and o.contract.contract_no == contract_no
                else o.contract_signing(
                    template_id,
                    contract_no,
                    result.sign_url,
                    party_urls,
                    parties,
                    at,
                    rent_before_finalise=template_id in self.rent_before_finalise,
                )
            ),
        )

    async def on_signature(self, order: LeaseOrder, data: Mapping[str, Any]) -> None:
        """A party signed, refused or let its signing expire (the channel's callback)."""
        contract_no, party, status = (
            str(data.get("contract_no")),
            str(data.get("party")),
            str(data.get("status")),
        )
        if status == "signed":
            updated = await self.book.change(
                order.id,
                lambda o, at: o.contract_party_signed(contract_no, party, at),
                on_move(EventType.LEASE_CONTRACT_SIGNED, contract_status, ContractStatus.SIGNED),
            )
            self.book.trail.record(
                order.id, FlowNode.NOTIFIED, message=f"contract {contract_no} signed by {party}"
            )
            await self.finalise_if_ready(updated)
            return
        target = ContractStatus.EXPIRED if status == "expired" else ContractStatus.REFUSED
        await self.book.change(
            order.id,
            lambda o, at: o.contract_sign_failed(contract_no, target, status.upper(), at),
            on_move(EventType.LEASE_CONTRACT_SIGN_FAILED, contract_status),
        )
        self.book.trail.record(
            order.id,
            FlowNode.NOTIFIED,
            message=f"contract {contract_no}: {party} {status}",
            outcome=FlowOutcome.FAILED,
            party=party,
        )

    async def finalise_if_ready(self, order: LeaseOrder) -> LeaseOrder:
        """落签 now if the order is ready for it; a failure is left to the worker."""
        if not order.ready_to_finalise:
            return order
        try:
            return await self.finalise(order.id)
        except DomainError as exc:
            log.warning("contract not finalised yet", extra={"order_id": order.id, "code": exc.code})
            return await self.book.get(order.id)

    async def finalise(self, order_id: str) -> LeaseOrder:
        """Seal the signed contract now that the withholding agreement is signed."""
        order = await self.book.get(order_id)
        if not order.ready_to_finalise or order_id in self.finalising:
            return order
        self.finalising.add(order_id)
        try:
            port = self.calls.port(order)
            await self.calls.operate(order, "finalise contract", port.finalise_contract(order))
            return await self.book.change(
                order_id,
                lambda o, at: o.contract_finalised(at) if o.ready_to_finalise else o,
                on_move(EventType.LEASE_CONTRACT_FINALISED, contract_status, ContractStatus.FINALISED),
            )
        finally:
            self.finalising.discard(order_id)
