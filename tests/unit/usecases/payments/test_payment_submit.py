"""Specification of submitting a payment (core.usecases.payments.submit), on in-memory fakes."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from fakes.channels import ScriptedPort, external, ledger
from fakes.services import command, payment_service, seed_account

from core.errors import BusinessRuleViolation, IdempotencyConflict, NoRoute, NotFound
from core.ledger import FlowKind, transfer
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from core.usecases.payments.commands import PaymentCommand
from ports.channels import ChannelResult, ChannelStatus, PaymentRequest
from ports.storage import UnitOfWork


def transfer_command() -> PaymentCommand:
    return command(
        pay_method="transfer",
        payer_account="acc-a",
        payee_account="acc-b",
        ledger_accounts=("acc-a", "acc-b"),
    )


PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1")
PROCESSING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1")


async def test_external_payment_is_saved_before_the_channel_is_called() -> None:
    port = ScriptedPort(PROCESSING)
    h = payment_service(external(port))
    seen: list[PaymentStatus | None] = []

    def look(request: PaymentRequest) -> None:
        stored = h.state.payments.get(request.payment_id)
        seen.append(stored.status if stored else None)

    port.on_call = look
    payment, created = await h.service.submit(command())
    assert created and seen == [PaymentStatus.CREATED]
    assert h.state.payments[payment.id].status is PaymentStatus.PROCESSING
    assert h.state.schedules[payment.id]["next_query_at"] is not None


async def test_repeat_of_a_request_answers_the_first_result_without_calling_again() -> None:
    port = ScriptedPort(PAID)
    h = payment_service(external(port))
    first, _ = await h.service.submit(command())
    again, created = await h.service.submit(command())
    assert (again.id, created, len(port.calls)) == (first.id, False, 1)


async def test_request_number_reused_with_another_body_is_a_conflict() -> None:
    h = payment_service(external(ScriptedPort(PAID)))
    await h.service.submit(command())
    with pytest.raises(IdempotencyConflict):
        await h.service.submit(command(request_hash="another body"))


async def test_failed_channel_call_leaves_the_outcome_unknown() -> None:
    h = payment_service(external(ScriptedPort(ConnectionResetError())))
    payment, _ = await h.service.submit(command())
    assert (payment.status, payment.failure_code) == (PaymentStatus.UNKNOWN, None)
    assert "channel_answer" in h.nodes(payment.id)


async def test_channel_that_does_not_answer_in_time_leaves_the_outcome_unknown() -> None:
    h = payment_service(external(ScriptedPort(PAID, hang=True)), timeout=0.01)
    payment, _ = await h.service.submit(command())
    assert payment.status is PaymentStatus.UNKNOWN


async def test_amount_above_the_single_payment_limit_is_refused_and_nothing_stored() -> None:
    port = ScriptedPort(PAID)
    h = payment_service(external(port), limit="10.00")
    with pytest.raises(BusinessRuleViolation) as refused:
        await h.service.submit(command(amount=1_001))
    assert refused.value.code == "AMOUNT_LIMIT_EXCEEDED"
    assert not h.state.payments and not port.calls


async def test_refused_repeat_of_a_done_request_answers_the_first_result() -> None:
    h = payment_service(external(ScriptedPort(PAID)), limit="10.00")
    first, _ = await h.service.submit(command(amount=1_000))
    h.service.policy.max_amounts["CNY"] = Decimal("5.00")  # type: ignore[index]  # lowered since
    again, created = await h.service.submit(command(amount=1_000))
    assert (again.id, created) == (first.id, False)


async def test_ledger_payment_commits_its_postings_and_final_state_together() -> None:
    postings = tuple(transfer("acc-a", "acc-b", Money(1_000, "CNY"), FlowKind.TRANSFER))
    h = payment_service(ledger(ScriptedPort(ChannelResult(ChannelStatus.SUCCEEDED, postings=postings))))
    seed_account(h.storage, "acc-a", available=1_000)
    seed_account(h.storage, "acc-b")
    payment, created = await h.service.submit(
        command(
            pay_method="transfer",
            payer_account="acc-a",
            payee_account="acc-b",
            ledger_accounts=("acc-a", "acc-b"),
        )
    )
    assert created and payment.status is PaymentStatus.SUCCEEDED
    assert h.storage.commits == 1
    assert [(e.posting, e.balance_after_minor) for e in h.state.entries] == [
        (postings[0], 0),
        (postings[1], 1_000),
    ]
    assert [txn for _, txn, _ in h.state.transfers] == list(h.state.txns)
    assert h.state.events() == ["payment.succeeded"]


async def test_ledger_payment_naming_another_apps_account_is_not_found() -> None:
    h = payment_service(ledger(ScriptedPort(PAID)))
    seed_account(h.storage, "acc-a")
    seed_account(h.storage, "acc-b", "other-app")
    with pytest.raises(NotFound) as refused:
        await h.service.submit(
            command(
                pay_method="transfer",
                payer_account="acc-a",
                payee_account="acc-b",
                ledger_accounts=("acc-a", "acc-b"),
            )
        )
    assert (refused.value.code, refused.value.field) == ("ACCOUNT_NOT_FOUND", "payee_account")
    assert not h.state.payments


class Following:
    """A workflow's listener that follows the payments naming its record."""

    def __init__(self) -> None:
        self.calls = 0

    def follows(self, payment: Payment) -> bool:
        return "bill_id" in payment.details

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None:
        self.calls += 1


async def test_a_workflows_payment_routed_to_the_ledger_is_refused_before_the_channel_is_asked() -> None:
    port = ScriptedPort(PAID)
    listener = Following()
    h = payment_service(ledger(port), listeners=[listener])
    seed_account(h.storage, "acc-a", available=1_000)
    seed_account(h.storage, "acc-b")
    with pytest.raises(NoRoute):
        await h.service.submit(replace(transfer_command(), details={"bill_id": "bill_1"}))
    assert not port.calls and not h.state.payments and listener.calls == 0
    # a payment no workflow follows settles in the ledger's own transaction, with no listener
    payment, created = await h.service.submit(transfer_command())
    assert created and payment.status is PaymentStatus.SUCCEEDED and listener.calls == 0
