"""Specification of the contract and withholding signings (core.usecases.lease.signing,
withholding) on the fakes: what the signing port is asked, what the order remembers, and the
lease operations (unsign, cancel the plan) that follow."""

from __future__ import annotations

from fakes.workflows import LeaseWorld, lease_world
from lease_builders import BUYER, T0, collecting, contract_signed, new_order

from core.lease.status import AgreementStatus, CancelReason, ContractStatus, PlanStatus
from core.usecases.lease.signing import ContractSigning
from core.usecases.lease.withholding import WithholdingService
from ports.lease import CONTRACT_SIGNING, WITHHOLDING_SIGNING


def signings(w: LeaseWorld) -> tuple[ContractSigning, WithholdingService]:
    contract = ContractSigning(w.book, w.calls)
    return contract, WithholdingService(w.book, w.calls, contract)


async def test_a_synced_order_starts_its_contract_signing_with_the_channels_url() -> None:
    order = new_order().synced("CH-1", T0)
    w = lease_world(order)
    contract, _ = signings(w)
    signing = await contract.start(order.id, "shop", "TPL-1")
    [request] = w.signing.requests
    assert (request.kind, request.details["template_id"], request.details["buyer_id"]) == (
        CONTRACT_SIGNING,
        "TPL-1",
        BUYER,
    )
    assert signing.contract.status is ContractStatus.SIGNING and w.orders[order.id] == signing


async def test_a_signed_contract_starts_the_withholding_signing_of_its_next_attempt() -> None:
    order = contract_signed(new_order())
    w = lease_world(order)
    _, withholding = signings(w)
    signing = await withholding.start_signing(order.id, "shop", "https://shop.example/back")
    [request] = w.signing.requests
    assert (
        request.kind == WITHHOLDING_SIGNING and request.details["return_url"] == "https://shop.example/back"
    )
    assert (signing.agreement.status, signing.agreement.attempt) == (AgreementStatus.SIGNING, 1)


async def test_unsigning_asks_the_channel_once_and_repeating_it_is_harmless() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    _, withholding = signings(w)
    unsigned = await withholding.unsign(order.id, "shop", "user asked")
    again = await withholding.unsign(order.id, "shop", "user asked")
    assert unsigned.agreement.status is AgreementStatus.UNSIGNED and again == unsigned
    assert w.port.calls == ["unsign_agreement"]


async def test_cancelling_the_plan_stops_collection_and_tells_the_app_once() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    _, withholding = signings(w)
    cancelled = await withholding.cancel_plan(order.id, "shop", CancelReason.RETURN_SUCCESS, "returned")
    await withholding.cancel_plan(order.id, "shop", CancelReason.RETURN_SUCCESS, "returned")
    assert cancelled.plan.status is PlanStatus.CANCELLED
    assert w.port.calls == ["cancel_plan"] and w.events() == ["lease.plan_cancelled"]
    async with w.storage.uow() as uow:
        assert await uow.lease_orders.with_due_periods(T0, 10) == []
