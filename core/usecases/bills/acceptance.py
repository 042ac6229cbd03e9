"""What an accepted bill holds in the transaction that stores it, so that checks made on a read
still hold under concurrency: a loan counts the applicant's open loans with the applicant held;
a reimbursement reserves each linked loan's write-off with a conditional write."""

from __future__ import annotations

from core.bills.model import Bill, BillKind, LoanCommand, WriteOffLine
from core.bills.risk import BillLimits, risk_check_loan
from core.errors import BusinessRuleViolation, DomainError
from ports.bills import BillRepository


async def hold_acceptance(repo: BillRepository, bill: Bill, limits: BillLimits) -> DomainError | None:
    """Inside the transaction that stores `bill` as accepted; the refusal (nothing held) or None.

    A loan: the applicant is held (its account row locked; SQLite's writer holds the whole
    database) and its open loans counted again, so N concurrent loans never pass
    `max_open_loans` (TOO_MANY_OPEN_LOANS). A reimbursement: each linked loan's write-off is
    reserved only while open - reserved covers it, so two bills never write off the same money
    (WRITE_OFF_EXCEEDS_OPEN_AMOUNT) and business processing always finds its write-off.
    """
    cmd = bill.command()
    if isinstance(cmd, LoanCommand):
        await repo.hold_applicant(bill.app_id, bill.applicant_account_id)
        open_loans = await repo.open_loans(bill.app_id, bill.applicant_account_id, excluding=bill.id)
        try:
            risk_check_loan(cmd, open_loans, limits)
        except DomainError as exc:
            return exc
        return None
    assert bill.kind is BillKind.REIMBURSEMENT
    return await _reserve_write_offs(repo, bill.write_offs)


async def _reserve_write_offs(repo: BillRepository, lines: tuple[WriteOffLine, ...]) -> DomainError | None:
    reserved: list[WriteOffLine] = []
    # in loan id order, the order business processing locks loans in: no two bills deadlock
    for i, line in sorted(enumerate(lines), key=lambda numbered: numbered[1].loan_bill_id):
        if not await repo.reserve_write_off(line.loan_bill_id, line.amount):
            for done in reserved:
                await repo.release_write_off(done.loan_bill_id, done.amount)
            return BusinessRuleViolation(
                f"loan {line.loan_bill_id} no longer has {line.amount} left to write off: another "
                "accepted bill reserved it meanwhile",
                field=f"write_offs[{i}].amount",
                code="WRITE_OFF_EXCEEDS_OPEN_AMOUNT",
            )
        reserved.append(line)
    return None
