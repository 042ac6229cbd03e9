"""LeaseChannelEvents: a verified callback reaches the use case it is about; one about an order
of another channel, or of no known order, is acknowledged and changes nothing."""

from __future__ import annotations

from fakes.workflows import LeaseWorld, lease_world
from lease_builders import T0, contract_signed, new_order

from core.lease.order import LeaseOrder
from core.lease.status import AgreementStatus, ContractStatus
from core.usecases.lease.callbacks import LeaseChannelEvents
from core.usecases.lease.signing import ContractSigning
from core.usecases.lease.withholding import WithholdingService
from ports.channels import ChannelEvent
from ports.lease import LeaseEventKind


def handler(w: LeaseWorld) -> LeaseChannelEvents:
    book, calls = w.book, w.calls
    contract = ContractSigning(book, calls)
    return LeaseChannelEvents(book, contract, WithholdingService(book, calls, contract))


def signing_agreement() -> tuple[LeaseOrder, str]:
    order = contract_signed(new_order())
    attempt, external = order.next_agreement_attempt()
    return order.agreement_signing(attempt, "https://page", T0), external


async def test_a_signed_agreement_on_a_signed_contract_is_followed_by_its_finalising() -> None:
    order, external = signing_agreement()
    w = lease_world(order)
    event = ChannelEvent(
        LeaseEventKind.AGREEMENT_SIGNED.value,
        {"external_agreement_no": external, "agreement_no": "20265401", "alipay_user_id": "2088"},
    )
    assert await handler(w).on_channel_event("ant_lease", event) is True
    stored = w.orders[order.id]
    assert stored.agreement.status is AgreementStatus.SIGNED and stored.agreement.agreement_no == "20265401"
    assert stored.contract.status is ContractStatus.FINALISED and w.port.calls == ["finalise_contract"]
    assert w.events() == ["lease.agreement_signed", "lease.contract_finalised"]


async def test_a_repeated_agreement_callback_changes_nothing() -> None:
    order, external = signing_agreement()
    w = lease_world(order)
    event = ChannelEvent(
        LeaseEventKind.AGREEMENT_SIGNED.value, {"external_agreement_no": external, "agreement_no": "20265401"}
    )
    events = handler(w)
    await events.on_channel_event("ant_lease", event)
    await events.on_channel_event("ant_lease", event)
    assert w.events() == ["lease.agreement_signed", "lease.contract_finalised"]
    assert w.port.calls == ["finalise_contract"]


async def test_a_callback_from_another_channel_is_acknowledged_and_changes_nothing() -> None:
    order, external = signing_agreement()
    w = lease_world(order)
    event = ChannelEvent(LeaseEventKind.AGREEMENT_SIGNED.value, {"external_agreement_no": external})
    assert await handler(w).on_channel_event("other_channel", event) is True
    assert w.orders[order.id] == order and w.events() == []


async def test_a_callback_about_no_known_order_is_acknowledged() -> None:
    w = lease_world()
    event = ChannelEvent(
        LeaseEventKind.CONTRACT_SIGNATURE.value, {"order_id": "lse_missing", "status": "signed"}
    )
    assert await handler(w).on_channel_event("ant_lease", event) is True
    assert w.events() == []


async def test_an_event_that_is_not_a_lease_event_is_left_to_other_handlers() -> None:
    event = ChannelEvent("payout.batch_done", {})
    assert await handler(lease_world()).on_channel_event("ant_lease", event) is False


async def test_a_refused_contract_signature_fails_the_signing() -> None:
    order = new_order().synced("CH-1", T0)
    order = order.contract_signing("TPL", "C1", "https://sign", {"lessee": "u"}, ["lessee"], T0)
    w = lease_world(order)
    event = ChannelEvent(
        LeaseEventKind.CONTRACT_SIGNATURE.value,
        {"order_id": order.id, "contract_no": "C1", "party": "lessee", "status": "refused"},
    )
    await handler(w).on_channel_event("ant_lease", event)
    stored = w.orders[order.id]
    assert stored.contract.status is ContractStatus.REFUSED and stored.contract.failure_code == "REFUSED"
    assert w.events() == ["lease.contract_sign_failed"]
