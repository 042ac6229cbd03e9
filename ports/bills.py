"""Storage port of bills: what the bill use cases need from persistence, within one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.bills.model import ApplicantView, Bill, BillStatus, LoanView
from core.bills.plan import LoanUpdate, TransferLog, WriteOffLog
from core.errors import Conflict
from core.money import Money
from core.payments.model import Payment


@dataclass(frozen=True, slots=True)
class Applicant:
    """An applicant's virtual account as the checks see it, plus what the bank payment needs."""

    view: ApplicantView
    currency: str
    bank_name: str | None = None
    bank_no: str | None = None  # CNAPS 联行号 of the registered card's bank


@dataclass(frozen=True, slots=True)
class CompanyAccounts:
    """The company's accounts for one app and currency: the paying account mirrors the cash the
    bank paid out; the write-off clearing account receives repaid loans (核销)."""

    paying: str
    write_off: str


class LoanChanged(Conflict):
    """A linked loan's open amount is no longer the one business processing was planned from."""

    code = "LOAN_CHANGED"


class BillRepository(Protocol):
    """Bills, their loans, logs and the company accounts, bound to one unit of work."""

    async def add(self, bill: Bill) -> None:
        """Insert; raises ports.storage.DuplicateRequest when (app_id, bill_code) exists."""
        ...

    async def get(self, bill_id: str) -> Bill | None: ...

    async def get_for_update(self, bill_id: str) -> Bill | None:
        """Read and lock the row until the transaction ends (where the database can)."""
        ...

    async def by_code(self, app_id: str, bill_code: str) -> Bill | None: ...

    async def save(self, bill: Bill, *, expected_status: BillStatus) -> None:
        """Update; raises ports.storage.ConcurrentUpdate when the stored status changed."""
        ...

    async def applicant(self, app_id: str, account_id: str) -> Applicant | None:
        """The app's customer (C) account with this id, or None."""
        ...

    async def loans(
        self, app_id: str, loan_bill_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, LoanView]:
        """The app's paid-out loans among the ids (locked when `lock`), by loan bill id."""
        ...

    async def open_loans(self, app_id: str, applicant_account_id: str, *, excluding: str) -> int:
        """How many loans the applicant holds open or has in process (other than `excluding`)."""
        ...

    async def hold_applicant(self, app_id: str, account_id: str) -> None:
        """Lock the applicant's account row until the transaction ends, so that the limits per
        applicant are counted and written by one acceptance at a time (PostgreSQL: FOR UPDATE;
        SQLite: its writer already holds the whole database)."""
        ...

    async def reserve_write_off(self, loan_bill_id: str, amount: Money) -> bool:
        """Reserve `amount` of the loan's open amount, only while open - reserved >= amount (one
        conditional write); False when it does not fit."""
        ...

    async def release_write_off(self, loan_bill_id: str, amount: Money) -> None:
        """Give back a reservation that will not be written off."""
        ...

    async def update_loan(self, update: LoanUpdate, *, at: datetime) -> None:
        """Write a reserved write-off off: apply only while the stored open amount is
        `expected_open_amount` and the written-off part is reserved (it stops being); else
        LoanChanged."""
        ...

    async def add_transfer_log(
        self, bill_id: str, ledger_txn_id: str, log: TransferLog, *, at: datetime
    ) -> None: ...

    async def add_write_off_logs(
        self, bill_id: str, ledger_txn_id: str, logs: Sequence[WriteOffLog], *, at: datetime
    ) -> None: ...

    async def company_accounts(self, app_id: str, currency: str, *, at: datetime) -> CompanyAccounts:
        """The app's company accounts in `currency`, opened on first use."""
        ...

    async def attempt_payment(self, bill: Bill) -> tuple[Payment, int] | None:
        """The payment of the bill's current bank attempt and its query count, if it exists."""
        ...

    async def query_attempt_now(self, bill: Bill, now: datetime) -> bool:
        """Make the payment of the bill's current attempt due for the query poller at `now` (an
        operator's requery_bank), keeping its query count (an escalated payment stays escalated);
        False when it is final or already due."""
        ...

    async def due_for_business(self, limit: int) -> list[str]:
        """Bills whose money side is settled and whose business processing has not run."""
        ...

    async def attempts_to_send(self, now: datetime, limit: int) -> list[Bill]:
        """Bills bank_submitted whose attempt no bill worker holds a claim on at `now`: just
        accepted (or resent), or left by a worker that stopped around the 8801 call."""
        ...

    async def claim_attempt(
        self, bill_id: str, attempt: int, *, holder: str, until: datetime, now: datetime
    ) -> bool:
        """Claim the bill's attempt for `holder` until `until`, in one conditional update: only
        while the bill is bank_submitted at that attempt and no other claim holds at `now`. False
        when another worker holds it or the bill moved on: two workers never send one attempt."""
        ...
