"""Specification of the operators' error handling (core.usecases.bills.actions) on in-memory fakes."""

from __future__ import annotations

import pytest
from fakes.workflows import APPLICANT as EMP
from fakes.workflows import BILL_APP as APP
from fakes.workflows import BillWorld, bill_world
from test_bill_bank import PAID, REFUSED, bank_loan

from core.bills.actions import ErrorAction
from core.bills.model import Bill, BillKind, BillStatus
from core.errors import Conflict, DomainError
from core.ledger import AccountStatus
from core.money import Money
from core.usecases.bills.requests import BillRefused, BillRequest


def loan_request() -> BillRequest:
    return BillRequest(
        app_id=APP,
        kind=BillKind.LOAN,
        request_hash="h1",
        bill_code="JK-1",
        pay_mode="transfer",
        applicant_account_id=EMP,
        amount=Money(100_000, "CNY"),
        write_off_total=Money.zero("CNY"),
    )


async def refused_bill_id(world: BillWorld) -> str:
    with pytest.raises(BillRefused) as refused:
        await world.intake.submit(loan_request())
    return refused.value.bill_id


async def test_revalidate_accepts_a_bill_once_its_data_is_fixed_and_runs_it_on() -> None:
    world = bill_world()
    world.set_applicant_status(AccountStatus.FROZEN)
    bill_id = await refused_bill_id(world)
    world.set_applicant_status(AccountStatus.NORMAL)

    done = await world.actions.act(bill_id, ErrorAction.REVALIDATE, "ops-1", "account unfrozen")

    assert done.status is BillStatus.COMPLETED
    actions = [r for r in world.flow.records if r.node.value == "operator_action"]
    assert [(r.actor, r.detail["reason"]) for r in actions] == [("ops-1", "account unfrozen")]


async def test_an_action_whose_precondition_fails_is_refused_and_recorded() -> None:
    world = bill_world()
    bill, _ = await world.intake.submit(loan_request())

    with pytest.raises(DomainError) as refused:
        await world.actions.act(bill.id, ErrorAction.SWITCH_TO_TRANSFER, "ops-1")

    assert refused.value.code == "ACTION_PRECONDITION_FAILED"
    assert world.bill(bill.id).status is BillStatus.COMPLETED
    record = [r for r in world.flow.records if r.node.value == "operator_action"][-1]
    assert record.outcome.value == "failed" and record.actor == "ops-1"


# -- a form acted from a page showing the bill before it changed (`seen`) ------------------------


def as_first_read(world: BillWorld, shown: Bill) -> None:
    """The action's first read of the bill gives `shown`: it ran before another operator's
    action committed (the race the check on the locked row closes)."""
    reads = world.ctx.get

    async def read_before_the_change(bill_id: str, app_id: str | None = None) -> Bill:
        world.ctx.get = reads  # type: ignore[method-assign]
        return shown

    world.ctx.get = read_before_the_change  # type: ignore[method-assign]


async def test_a_resend_from_a_page_shown_before_another_resend_failed_again_is_refused() -> None:
    world = bill_world(REFUSED, REFUSED, PAID)
    failed = await world.submit(bank_loan())
    assert failed.status is BillStatus.BANK_FAILED
    shown = failed  # operator A opens the resend form; operator B resends first
    await world.actions.act(failed.id, ErrorAction.RESEND_BANK, "ops-b", "payee fixed")
    await world.send()
    again = world.bill(failed.id)
    assert again.status is BillStatus.BANK_FAILED and again.attempt == 2  # it looks as A saw it
    as_first_read(world, shown)

    with pytest.raises(Conflict) as refused:
        await world.actions.act(
            failed.id, ErrorAction.RESEND_BANK, "ops-a", seen=shown.updated_at.isoformat()
        )

    assert refused.value.code == "STALE_FORM"
    assert world.bill(failed.id).attempt == 2 and world.bill(failed.id).status is BillStatus.BANK_FAILED
    assert len(world.bank.calls) == 2, "no third payment to the bank"


async def test_a_switch_to_transfer_from_a_page_shown_before_a_resend_is_refused() -> None:
    world = bill_world(REFUSED, REFUSED)
    shown = await world.submit(bank_loan())
    await world.actions.act(shown.id, ErrorAction.RESEND_BANK, "ops-b")
    await world.send()
    as_first_read(world, shown)

    with pytest.raises(Conflict) as refused:
        await world.actions.act(
            shown.id, ErrorAction.SWITCH_TO_TRANSFER, "ops-a", seen=shown.updated_at.isoformat()
        )

    assert refused.value.code == "STALE_FORM"
    assert world.bill(shown.id).pay_mode == "bank" and world.bill(shown.id).status is BillStatus.BANK_FAILED


async def test_a_revalidate_from_a_page_shown_before_another_revalidation_is_refused() -> None:
    world = bill_world()
    world.set_applicant_status(AccountStatus.FROZEN)
    bill_id = await refused_bill_id(world)
    shown = world.bill(bill_id)
    # operator B revalidates first: still frozen, refused again
    again = await world.actions.act(bill_id, ErrorAction.REVALIDATE, "ops-b")
    assert again.status is shown.status and again.updated_at != shown.updated_at
    world.set_applicant_status(AccountStatus.NORMAL)
    as_first_read(world, shown)

    with pytest.raises(Conflict) as refused:
        await world.actions.act(bill_id, ErrorAction.REVALIDATE, "ops-a", seen=shown.updated_at.isoformat())

    assert refused.value.code == "STALE_FORM"
    assert world.bill(bill_id).status is shown.status


async def test_an_action_from_a_page_showing_the_bill_as_it_is_runs() -> None:
    world = bill_world(REFUSED, PAID)
    failed = await world.submit(bank_loan())
    started = await world.actions.act(
        failed.id, ErrorAction.RESEND_BANK, "ops-a", seen=failed.updated_at.isoformat()
    )
    assert started.status is BillStatus.BANK_SUBMITTED and started.attempt == 2
