"""Specification of what an accepted bill holds (core.usecases.bills.acceptance) on in-memory fakes:
write-offs reserved in the acceptance transaction, all or none, and turned into the write-off by
business processing; the open-loan limit counted where the bill is stored."""

from __future__ import annotations

from dataclasses import replace

from bill_builders import LIMITS
from fakes.workflows import bill_world
from test_bill_business import request

from core.bills.actions import ErrorAction
from core.bills.model import BillKind, BillStatus, WriteOffLine
from core.errors import InsufficientFunds
from core.money import Money
from core.usecases.bills.acceptance import hold_acceptance


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


async def test_a_reimbursement_that_does_not_fit_every_loan_reserves_none() -> None:
    world = bill_world()
    first, _ = await world.intake.submit(request(BillKind.LOAN, 50_000, code="JK-1"))
    second, _ = await world.intake.submit(request(BillKind.LOAN, 10_000, code="JK-2"))
    lines = (WriteOffLine(first.id, cny(50_000)), WriteOffLine(second.id, cny(20_000)))
    bill = replace(
        first, id="bill_bx", kind=BillKind.REIMBURSEMENT, write_offs=lines, write_off_total=cny(70_000)
    )

    async with world.storage.uow() as uow:
        error = await hold_acceptance(uow.bills, bill, LIMITS)
        await uow.commit()

    assert error is not None and error.code == "WRITE_OFF_EXCEEDS_OPEN_AMOUNT"
    assert error.field == "write_offs[1].amount"
    assert world.bill(first.id).loan_reserved_amount == cny(0), "the first line's reservation is given back"
    assert world.bill(second.id).loan_reserved_amount in (None, cny(0))


async def test_an_accepted_reimbursement_holds_its_write_off_until_business_writes_it_off() -> None:
    world = bill_world()
    loan, _ = await world.intake.submit(request(BillKind.LOAN, 50_000, code="JK-1"))
    line = WriteOffLine(loan.id, cny(30_000))
    world.storage.faults.next_post = InsufficientFunds("the ledger refuses once")

    failed, _ = await world.intake.submit(
        request(BillKind.REIMBURSEMENT, 40_000, code="BX-1", write_offs=(line,))
    )

    assert failed.status is BillStatus.BUSINESS_FAILED
    assert world.bill(loan.id).loan_reserved_amount == cny(30_000), "kept for the rerun"
    assert world.bill(loan.id).loan_open_amount == cny(50_000)
    done = await world.actions.act(failed.id, ErrorAction.RERUN_BUSINESS, "ops")
    assert done.status is BillStatus.COMPLETED
    assert world.bill(loan.id).loan_open_amount == cny(20_000)
    assert world.bill(loan.id).loan_reserved_amount == cny(0)
