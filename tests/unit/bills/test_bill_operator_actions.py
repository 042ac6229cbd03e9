"""Specification of the operators' error handling (core.usecases.bills.actions) on in-memory fakes."""

from __future__ import annotations

import pytest
from fakes.workflows import APPLICANT as EMP
from fakes.workflows import BILL_APP as APP
from fakes.workflows import BillWorld, bill_world

from core.bills.actions import ErrorAction
from core.bills.model import BillKind, BillStatus
from core.errors import DomainError
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
