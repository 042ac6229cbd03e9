"""The in-memory bill repository (ports.bills.BillRepository) over a fake unit of work's state.

Applicants are the state's customer accounts and the company accounts are opened on first use,
as in the SQL repository, so the fake ledger posts to the same accounts the real one would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from core.bills.model import IN_PROCESS, ApplicantView, Bill, BillKind, BillStatus, LoanState, LoanView
from core.bills.plan import LoanUpdate, TransferLog, WriteOffLog
from core.ledger import AccountKind, AccountView, NewAccount
from core.money import Money
from core.payments.model import Payment
from ports.bills import Applicant, BillRepository, CompanyAccounts, LoanChanged
from ports.storage import ConcurrentUpdate, DuplicateRequest

if TYPE_CHECKING:
    from fakes.storage import FakeState


def company_account_ids(app_id: str, currency: str) -> CompanyAccounts:
    return CompanyAccounts(paying=f"cpay_{app_id}_{currency}", write_off=f"cwof_{app_id}_{currency}")


class FakeBills(BillRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, bill: Bill) -> None:
        if bill.id in self.state.bills or await self.by_code(bill.app_id, bill.bill_code) is not None:
            raise DuplicateRequest(bill.bill_code)
        self.state.bills[bill.id] = bill

    async def get(self, bill_id: str) -> Bill | None:
        return self.state.bills.get(bill_id)

    async def get_for_update(self, bill_id: str) -> Bill | None:
        return self.state.bills.get(bill_id)

    async def by_code(self, app_id: str, bill_code: str) -> Bill | None:
        found = (b for b in self.state.bills.values() if (b.app_id, b.bill_code) == (app_id, bill_code))
        return next(found, None)

    async def save(self, bill: Bill, *, expected_status: BillStatus) -> None:
        stored = self.state.bills.get(bill.id)
        if stored is None or stored.status is not expected_status:
            raise ConcurrentUpdate(bill.id)
        self.state.bills[bill.id] = bill
        self.state.bill_claims.pop(bill.id, None)  # a claim ends when the bill moves

    async def applicant(self, app_id: str, account_id: str) -> Applicant | None:
        account = self.state.accounts.get(account_id)
        if account is None or account.opened.app_id != app_id:
            return None
        view, card = account.opened.view, account.opened.bank_card
        if view.kind is not AccountKind.CUSTOMER:
            return None
        applicant = ApplicantView(
            view.id, view.owner, view.status, card.card_no if card else None, card.name if card else None
        )
        return Applicant(
            applicant, view.currency, card.bank_name if card else None, card.bank_no if card else None
        )

    async def loans(
        self, app_id: str, loan_bill_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, LoanView]:
        found = (self.state.bills.get(i) for i in sorted(set(loan_bill_ids)))
        views = (
            b.loan_view()
            for b in found
            if b is not None
            and b.app_id == app_id
            and b.kind is BillKind.LOAN
            and b.status is BillStatus.COMPLETED
        )
        return {v.bill_id: v for v in views if v is not None}

    async def open_loans(self, app_id: str, applicant_account_id: str, *, excluding: str) -> int:
        return sum(
            1
            for b in self.state.bills.values()
            if (b.app_id, b.applicant_account_id, b.kind) == (app_id, applicant_account_id, BillKind.LOAN)
            and b.id != excluding
            and (
                b.status in IN_PROCESS
                or (b.status is BillStatus.COMPLETED and b.loan_state is LoanState.OPEN)
            )
        )

    async def hold_applicant(self, app_id: str, account_id: str) -> None:
        return None  # one unit of work at a time here: nothing to hold

    async def reserve_write_off(self, loan_bill_id: str, amount: Money) -> bool:
        """Reserve `amount` of the loan's open amount, if that much is still unreserved."""
        loan = self.state.bills.get(loan_bill_id)
        view = loan.loan_view() if loan is not None else None
        if (
            loan is None
            or view is None
            or view.state is not LoanState.OPEN
            or view.unreserved_amount < amount
        ):
            return False
        reserved = view.reserved_amount or Money(0, loan.currency)
        self.state.bills[loan.id] = replace(loan, loan_reserved_amount=reserved + amount)
        return True

    async def release_write_off(self, loan_bill_id: str, amount: Money) -> None:
        loan = self.state.bills[loan_bill_id]
        reserved = loan.loan_reserved_amount or Money(0, loan.currency)
        self.state.bills[loan.id] = replace(loan, loan_reserved_amount=reserved - amount)

    async def update_loan(self, update: LoanUpdate, *, at: datetime) -> None:
        """Write off what the bill reserved: refused when the loan moved or is not reserved."""
        loan = self.state.bills.get(update.loan_bill_id)
        if (
            loan is None
            or loan.loan_open_amount != update.expected_open_amount
            or loan.loan_state is not LoanState.OPEN
        ):
            raise LoanChanged(f"loan {update.loan_bill_id} changed meanwhile", field="write_offs")
        written_off = update.expected_open_amount - update.open_amount
        reserved = loan.loan_reserved_amount or Money(0, loan.currency)
        if reserved < written_off:
            raise LoanChanged(f"loan {update.loan_bill_id} changed meanwhile", field="write_offs")
        self.state.bills[loan.id] = replace(
            loan,
            loan_open_amount=update.open_amount,
            loan_reserved_amount=reserved - written_off,
            loan_state=update.state,
            updated_at=at,
        )

    async def add_transfer_log(
        self, bill_id: str, ledger_txn_id: str, log: TransferLog, *, at: datetime
    ) -> None:
        self.state.bill_transfer_logs.append((bill_id, ledger_txn_id, log))

    async def add_write_off_logs(
        self, bill_id: str, ledger_txn_id: str, logs: Sequence[WriteOffLog], *, at: datetime
    ) -> None:
        self.state.write_off_logs.extend((bill_id, ledger_txn_id, log) for log in logs)

    async def company_accounts(self, app_id: str, currency: str, *, at: datetime) -> CompanyAccounts:
        from fakes.storage import FakeAccount

        ids = company_account_ids(app_id, currency)
        for account_id, owner in (
            (ids.paying, "company paying account"),
            (ids.write_off, "company write-off"),
        ):
            if account_id not in self.state.accounts:
                view = AccountView(account_id, owner, AccountKind.COMPANY, currency, allow_overdraft=True)
                self.state.accounts[account_id] = FakeAccount(NewAccount(view, app_id), at)
        return ids

    async def attempt_payment(self, bill: Bill) -> tuple[Payment, int] | None:
        if bill.attempt < 1:
            return None
        for p in self.state.payments.values():
            if (p.app_id, p.out_request_no) == (bill.app_id, bill.attempt_request_no):
                return p, int(self.state.schedules[p.id].get("query_attempts", 0))
        return None

    async def query_attempt_now(self, bill: Bill, now: datetime) -> bool:
        found = await self.attempt_payment(bill)
        if found is None or found[0].is_final:
            return False
        schedule = self.state.schedules[found[0].id]
        due = schedule.get("next_query_at")
        if due is not None and due <= now:
            return False
        schedule["next_query_at"] = now
        return True

    async def due_for_business(self, limit: int) -> list[str]:
        due = (BillStatus.BANK_SUCCEEDED, BillStatus.TRANSFER_PENDING)
        bills = sorted((b for b in self.state.bills.values() if b.status in due), key=lambda b: b.updated_at)
        return [b.id for b in bills[:limit]]

    async def attempts_to_send(self, now: datetime, limit: int) -> list[Bill]:
        bills = sorted(
            (
                b
                for b in self.state.bills.values()
                if b.status is BillStatus.BANK_SUBMITTED and self._claim_free(b.id, now)
            ),
            key=lambda b: b.updated_at,
        )
        return bills[:limit]

    async def claim_attempt(
        self, bill_id: str, attempt: int, *, holder: str, until: datetime, now: datetime
    ) -> bool:
        bill = self.state.bills.get(bill_id)
        if bill is None or bill.status is not BillStatus.BANK_SUBMITTED or bill.attempt != attempt:
            return False
        if not self._claim_free(bill_id, now):
            return False
        self.state.bill_claims[bill_id] = (attempt, holder, until)
        return True

    def _claim_free(self, bill_id: str, now: datetime) -> bool:
        claim = self.state.bill_claims.get(bill_id)
        return claim is None or claim[2] <= now
