"""In-memory fakes of the ports the bill use cases need: a unit of work that commits or rolls back
a copy of the stored state, the bill repository over it, and a flow-log sink."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

from core.bills.model import (
    IN_PROCESS,
    ApplicantView,
    Bill,
    BillKind,
    BillStatus,
    LoanState,
    LoanView,
)
from core.bills.plan import LoanUpdate, TransferLog, WriteOffLog
from core.bills.risk import BillLimits
from core.flowlog import FlowRecord
from core.ledger import AccountStatus, Posting
from core.money import Money
from core.payments.model import Payment
from core.usecases.bills.actions import BillActions
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.checking import BillChecker
from core.usecases.bills.context import BillContext
from core.usecases.bills.intake import BillIntake
from core.usecases.bills.listener import DueBills
from core.usecases.bills.policy import BillPolicy
from ports.bills import Applicant, CompanyAccounts, LoanChanged
from ports.storage import ConcurrentUpdate, DuplicateRequest

APP = "app1"
EMP = "emp1"
CARD = "6225880011112222"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class StoredState:
    """Everything a transaction may change; a unit of work works on a copy of it."""

    bills: dict[str, Bill] = field(default_factory=dict)
    postings: list[tuple[str, str, Posting]] = field(default_factory=list)  # (txn, subject, posting)
    transfer_logs: list[tuple[str, TransferLog]] = field(default_factory=list)
    write_off_logs: list[tuple[str, WriteOffLog]] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (type, subject, payload)


@dataclass
class Storage:
    """The committed state, the applicants (read-only here) and how many commits happened."""

    state: StoredState = field(default_factory=StoredState)
    applicants: dict[str, Applicant] = field(default_factory=dict)
    commits: int = 0
    fail_next_post: Exception | None = None  # the ledger refuses the next posting with this


class FakeLedger:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.ids = itertools.count(1)

    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        if self.uow.storage.fail_next_post is not None:
            error, self.uow.storage.fail_next_post = self.uow.storage.fail_next_post, None
            raise error
        txn_id = f"txn_{len(self.uow.state.postings) + 1}"
        self.uow.state.postings.extend((txn_id, subject_id, p) for p in postings)
        return txn_id


class FakeOutbox:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], *, at: datetime
    ) -> str | None:
        self.uow.state.events.append((event_type, subject_id, payload))
        return f"evt_{len(self.uow.state.events)}"


class FakePayments:
    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        return None


class FakeUnitOfWork:
    """One transaction: works on a copy of the stored state, which `commit` makes the stored one."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.state = copy.deepcopy(storage.state)
        self.committed = False
        self.ledger = FakeLedger(self)
        self.outbox = FakeOutbox(self)
        self.payments = FakePayments()

    async def __aenter__(self) -> FakeUnitOfWork:
        self.state = copy.deepcopy(self.storage.state)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None  # what was not committed is dropped with the copy

    async def commit(self) -> None:
        self.storage.state = self.state
        self.storage.commits += 1
        self.committed = True


class FakeBills:
    """The bill repository over one unit of work's copy of the state."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.state = uow.state

    async def add(self, bill: Bill) -> None:
        if any((b.app_id, b.bill_code) == (bill.app_id, bill.bill_code) for b in self.state.bills.values()):
            raise DuplicateRequest(bill.bill_code)
        self.state.bills[bill.id] = bill

    async def get(self, bill_id: str) -> Bill | None:
        return self.state.bills.get(bill_id)

    async def get_for_update(self, bill_id: str) -> Bill | None:
        return self.state.bills.get(bill_id)

    async def by_code(self, app_id: str, bill_code: str) -> Bill | None:
        return next(
            (b for b in self.state.bills.values() if (b.app_id, b.bill_code) == (app_id, bill_code)), None
        )

    async def save(self, bill: Bill, *, expected_status: BillStatus) -> None:
        if self.state.bills[bill.id].status is not expected_status:
            raise ConcurrentUpdate(bill.id)
        self.state.bills[bill.id] = bill

    async def applicant(self, app_id: str, account_id: str) -> Applicant | None:
        return self.uow.storage.applicants.get(account_id)

    async def loans(
        self, app_id: str, loan_bill_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, LoanView]:
        found = (self.state.bills.get(i) for i in loan_bill_ids)
        views = (b.loan_view() for b in found if b is not None and b.app_id == app_id)
        return {v.bill_id: v for v in views if v is not None}

    async def open_loans(self, app_id: str, applicant_account_id: str, *, excluding: str) -> int:
        return sum(
            1
            for b in self.state.bills.values()
            if b.kind is BillKind.LOAN
            and b.applicant_account_id == applicant_account_id
            and b.id != excluding
            and (b.status in IN_PROCESS or b.loan_state is LoanState.OPEN)
        )

    async def hold_applicant(self, app_id: str, account_id: str) -> None:
        return None  # one unit of work at a time here

    async def reserve_write_off(self, loan_bill_id: str, amount: Money) -> bool:
        loan = self.state.bills.get(loan_bill_id)
        view = loan.loan_view() if loan is not None else None
        if (
            loan is None
            or view is None
            or view.state is not LoanState.OPEN
            or view.unreserved_amount < amount
        ):
            return False
        self.state.bills[loan.id] = replace(
            loan, loan_reserved_amount=(view.reserved_amount or Money(0, loan.currency)) + amount
        )
        return True

    async def release_write_off(self, loan_bill_id: str, amount: Money) -> None:
        loan = self.state.bills[loan_bill_id]
        reserved = loan.loan_reserved_amount or Money(0, loan.currency)
        self.state.bills[loan.id] = replace(loan, loan_reserved_amount=reserved - amount)

    async def update_loan(self, update: LoanUpdate, *, at: datetime) -> None:
        loan = self.state.bills[update.loan_bill_id]
        written_off = update.expected_open_amount - update.open_amount
        reserved = loan.loan_reserved_amount or Money(0, loan.currency)
        if loan.loan_open_amount != update.expected_open_amount or reserved < written_off:
            raise LoanChanged(f"loan {update.loan_bill_id} changed", field="write_offs")
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
        self.state.transfer_logs.append((bill_id, log))

    async def add_write_off_logs(
        self, bill_id: str, ledger_txn_id: str, logs: Sequence[WriteOffLog], *, at: datetime
    ) -> None:
        self.state.write_off_logs.extend((bill_id, log) for log in logs)

    async def company_accounts(self, app_id: str, currency: str, *, at: datetime) -> CompanyAccounts:
        return CompanyAccounts(paying=f"cpay_{app_id}_{currency}", write_off=f"cwof_{app_id}_{currency}")

    async def attempt_payment(self, bill: Bill) -> tuple[Payment, int] | None:
        return None

    async def due_for_business(self, limit: int) -> list[str]:
        due = {BillStatus.BANK_SUCCEEDED, BillStatus.TRANSFER_PENDING}
        return [b.id for b in self.state.bills.values() if b.status in due][:limit]

    async def unanswered_attempts(self, before: datetime, limit: int) -> list[Bill]:
        return []


class FlowLog:
    """The flow-log sink: keeps the records in the order they were recorded."""

    def __init__(self) -> None:
        self.records: list[FlowRecord] = []

    def record(self, record: FlowRecord) -> None:
        self.records.append(record)

    def nodes(self, subject: str) -> list[str]:
        return [r.node.value for r in self.records if r.subject_id == subject]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


LIMITS = BillLimits(
    max_loan_amount={"CNY": Decimal("50000")},
    max_reimbursement_amount={"CNY": Decimal("100000")},
    max_open_loans=2,
    max_linked_loans=3,
)


@dataclass
class BillWorld:
    """The bill use cases over the fakes (no bank: BillBank is not wired, transfer mode only)."""

    storage: Storage
    flow: FlowLog
    ctx: BillContext
    checker: BillChecker
    business: BillBusiness
    intake: BillIntake
    actions: BillActions

    def bill(self, bill_id: str) -> Bill:
        return self.storage.state.bills[bill_id]

    def events(self) -> list[tuple[str, str]]:
        return [(kind, subject) for kind, subject, _ in self.storage.state.events]


class NoBank:
    """Stands in for BillBank where a test never reaches the bank."""

    async def send_attempt(self, bill: Bill) -> Bill:
        raise AssertionError("a transfer-mode bill never reaches the bank")

    async def requery(self, bill: Bill) -> Bill:
        raise AssertionError("a transfer-mode bill never reaches the bank")


def bill_world() -> BillWorld:
    storage = Storage()
    storage.applicants[EMP] = Applicant(ApplicantView(EMP, "Zhang San", AccountStatus.NORMAL, CARD), "CNY")
    flow = FlowLog()
    ctx = BillContext(
        lambda: FakeUnitOfWork(storage),  # type: ignore[arg-type,return-value]
        FakeBills,  # type: ignore[arg-type]
        flow,
        BillPolicy(LIMITS),
        DueBills(),
        clock=Clock(),
    )
    checker = BillChecker(ctx)
    business = BillBusiness(ctx)
    bank: Any = NoBank()
    intake = BillIntake(ctx, checker, bank, business)
    actions = BillActions(ctx, checker, intake, bank, business)
    return BillWorld(storage, flow, ctx, checker, business, intake, actions)
