"""Specification of business processing (core.usecases.bills.business) on in-memory fakes."""

from __future__ import annotations

from fakes.services import seed_account
from fakes.workflows import APPLICANT as EMP
from fakes.workflows import BILL_APP as APP
from fakes.workflows import bill_world

from core.bills.model import BillKind, BillStatus, LoanState, WriteOffLine
from core.errors import InsufficientFunds
from core.ledger import AccountKind
from core.money import Money
from core.usecases.bills.requests import BillRequest


def request(
    kind: BillKind, amount: int, *, code: str, write_offs: tuple[WriteOffLine, ...] = ()
) -> BillRequest:
    total = sum((w.amount for w in write_offs), Money.zero("CNY"))
    return BillRequest(
        app_id=APP,
        kind=kind,
        request_hash=code,
        bill_code=code,
        pay_mode="transfer",
        applicant_account_id=EMP,
        amount=Money(amount, "CNY"),
        write_off_total=total,
        write_offs=write_offs,
    )


async def test_a_reimbursement_writes_off_its_loan_and_pays_the_rest() -> None:
    world = bill_world()
    loan, _ = await world.intake.submit(request(BillKind.LOAN, 100_000, code="JK-1"))
    line = WriteOffLine(loan.id, Money(60_000, "CNY"))

    bill, _ = await world.intake.submit(
        request(BillKind.REIMBURSEMENT, 80_000, code="BX-1", write_offs=(line,))
    )

    assert bill.status is BillStatus.COMPLETED
    assert world.bill(loan.id).loan_open_amount == Money(40_000, "CNY")
    assert world.bill(loan.id).loan_state is LoanState.OPEN
    logs = world.storage.state.bill_transfer_logs
    assert [log.amount for bill_id, _, log in logs if bill_id == bill.id] == [Money(20_000, "CNY")]
    assert [log.loan_bill_id for _, _, log in world.storage.state.write_off_logs] == [loan.id]
    assert "write_off" in world.flow.nodes(bill.id)


async def test_a_broken_rule_rolls_everything_back_and_marks_business_failed() -> None:
    world = bill_world()
    # the company's paying account exists already, with no money and no overdraft
    seed_account(world.storage, f"cpay_{APP}_CNY", APP, kind=AccountKind.COMPANY)

    bill, _ = await world.intake.submit(request(BillKind.LOAN, 100_000, code="JK-1"))

    assert bill.status is BillStatus.BUSINESS_FAILED
    assert bill.failure is not None and bill.failure.code == InsufficientFunds.code
    assert world.storage.state.entries == [] and world.storage.state.bill_transfer_logs == []
    assert world.bill(bill.id).failure is not None
    assert world.events() == [("bill.failed", bill.id)]
    assert world.flow.nodes(bill.id)[-2:] == ["business_processing", "final_state"], "failed: a final node"


async def test_business_of_a_bill_that_is_not_due_changes_nothing() -> None:
    world = bill_world()
    bill, _ = await world.intake.submit(request(BillKind.LOAN, 100_000, code="JK-1"))
    commits = world.storage.commits

    again = await world.business.run_business(bill.id)

    assert again == world.bill(bill.id) and again.status is BillStatus.COMPLETED
    assert world.storage.commits == commits + 1, "only the company accounts' transaction commits"
    assert world.events() == [("bill.completed", bill.id)]
