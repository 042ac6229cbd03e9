"""In-memory fakes of the storage ports (cosmicpython style).

`FakeStorage` holds the committed state; each `FakeUnitOfWork` works on a copy of it, which
`commit()` makes the committed state and leaving without a commit throws away (rollback). The
repositories implement the same ports as the SQL ones, and tests/storage/ runs one contract
suite over all of them, so a use-case test on these fakes tests what the real storage does.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from core.bills.model import Bill
from core.bills.plan import TransferLog, WriteOffLog
from core.errors import InsufficientFunds, NotFound
from core.flowlog import FlowRecord
from core.general_pay.trade import Trade
from core.ids import new_id
from core.lease.order import LeaseOrder
from core.ledger import (
    AccountView,
    NewAccount,
    Posting,
    SubAccount,
    balance_limit_refusal,
    check_balanced,
    within_limit,
)
from core.payments.model import Payment, PaymentStatus
from core.payouts.model import Payout
from fakes.bills import FakeBills
from fakes.lease import FakeLeaseOrders
from fakes.payouts import FakePayouts
from fakes.trades import FakeTradeRows
from ports.after_commit import AfterCommit, AfterCommitActions
from ports.channels import DeferredPostings, Exchange
from ports.storage import (
    Accounts,
    ConcurrentUpdate,
    DuplicateRequest,
    FlowLogSink,
    Ledger,
    LedgerWork,
    Outbox,
    PaymentRepository,
    Transactions,
    UnitOfWork,
)
from ports.work_guard import only_its_own_waits

T = TypeVar("T")

# as the SQL storage: a `created` payment is due for a query after this grace (a crash in between)
CREATED_GRACE = timedelta(minutes=2)


@dataclass
class FakeAccount:
    """An account of the fake storage: as opened, with its balances."""

    opened: NewAccount
    opened_at: datetime
    balances: dict[SubAccount, int] = field(default_factory=lambda: dict.fromkeys(SubAccount, 0))


@dataclass(frozen=True)
class FakeEntry:
    txn_id: str
    posting: Posting
    balance_after_minor: int
    at: datetime


class Races:
    """Saves that first lose a race (ConcurrentUpdate, as if another process saved first), by
    repository name. Shared by every copy of the state: a lost race stays lost after a rollback."""

    def __init__(self) -> None:
        self.to_lose: dict[str, int] = defaultdict(int)

    def __deepcopy__(self, memo: dict[int, Any]) -> Races:
        return self

    def lose(self, repository: str, times: int = 1) -> None:
        self.to_lose[repository] += times

    def lost(self, repository: str) -> bool:
        if self.to_lose[repository] <= 0:
            return False
        self.to_lose[repository] -= 1
        return True


@dataclass
class FakeState:
    """Everything the fake storage holds (the committed state, or a transaction's copy)."""

    payments: dict[str, Payment] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    txns: dict[str, str] = field(default_factory=dict)  # txn id -> subject id
    entries: list[FakeEntry] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[tuple[Payment, str, datetime]] = field(default_factory=list)
    exchanges: list[tuple[str, str, Exchange, datetime]] = field(default_factory=list)
    deferred: list[tuple[str, DeferredPostings, datetime]] = field(default_factory=list)
    flow: list[FlowRecord] = field(default_factory=list)
    nonces: dict[tuple[str, str], datetime] = field(default_factory=dict)
    bills: dict[str, Bill] = field(default_factory=dict)
    # bill id -> (attempt, holder, claimed until): the bill workers' claims on attempts to send
    bill_claims: dict[str, tuple[int, str, datetime]] = field(default_factory=dict)
    bill_transfer_logs: list[tuple[str, str, TransferLog]] = field(default_factory=list)
    write_off_logs: list[tuple[str, str, WriteOffLog]] = field(default_factory=list)
    lease_orders: dict[str, LeaseOrder] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    trades: dict[str, Trade] = field(default_factory=dict)
    races: Races = field(default_factory=Races)

    def events(self, subject_id: str | None = None) -> list[str]:
        """The event types queued (for `subject_id` only, when given), in order."""
        return [e["event_type"] for e in self.outbox if subject_id in (None, e["subject_id"])]


class FakePayments(PaymentRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, payment: Payment, **schedule: Any) -> None:
        if payment.id in self.state.payments or await self.by_request_no(
            payment.app_id, payment.out_request_no
        ):
            raise DuplicateRequest(payment.out_request_no)
        self.state.payments[payment.id] = payment
        due = payment.created_at + CREATED_GRACE if payment.status is PaymentStatus.CREATED else None
        self.state.schedules[payment.id] = {"next_query_at": due, "query_attempts": 0, "escalated": False}
        self.state.schedules[payment.id].update(schedule)

    async def get(self, payment_id: str) -> Payment | None:
        return self.state.payments.get(payment_id)

    async def get_for_update(self, payment_id: str) -> Payment | None:
        return self.state.payments.get(payment_id)

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        for p in self.state.payments.values():
            if p.app_id == app_id and p.out_request_no == out_request_no:
                return p
        return None

    async def save(self, payment: Payment, *, expected_status: str, **schedule: Any) -> None:
        stored = self.state.payments.get(payment.id)
        if stored is None or stored.status.value != expected_status:
            raise ConcurrentUpdate(payment.id)
        self.state.payments[payment.id] = payment
        self.state.schedules[payment.id].update(schedule)


@dataclass
class Faults:
    """Failures a test asks for, shared by every unit of work of a storage (never rolled back)."""

    next_post: Exception | None = None  # the next ledger posting raises this, once


class FakeLedger(Ledger):
    """All or nothing, like the SQL ledger: no balance below zero without an overdraft."""

    def __init__(self, state: FakeState, faults: Faults | None = None) -> None:
        self.state = state
        self.faults = faults or Faults()

    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        if (fault := self.faults.next_post) is not None:
            self.faults.next_post = None
            raise fault
        check_balanced(postings)
        net: dict[tuple[str, SubAccount], int] = defaultdict(int)
        for p in postings:
            net[(p.account_id, p.sub_account)] += p.amount.minor
        currency_of = {p.account_id: p.amount.currency for p in postings}
        for (account_id, sub), delta in sorted(net.items()):
            self._check(account_id, currency_of[account_id], sub, delta)
        txn_id = new_id("txn")
        self.state.txns[txn_id] = subject_id
        for p in postings:
            balances = self.state.accounts[p.account_id].balances
            balances[p.sub_account] += p.amount.minor
            self.state.entries.append(FakeEntry(txn_id, p, balances[p.sub_account], at))
        return txn_id

    def _check(self, account_id: str, currency: str, sub: SubAccount, delta: int) -> None:
        account = self.state.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} does not exist", code="ACCOUNT_NOT_FOUND")
        view = account.opened.view
        if view.currency != currency:
            raise NotFound(
                f"account {account_id} holds {view.currency}, not {currency}",
                code="ACCOUNT_CURRENCY_MISMATCH",
            )
        if not within_limit(account.balances[sub] + delta, currency):
            raise balance_limit_refusal(account_id)
        if delta < 0 and not view.allow_overdraft and account.balances[sub] + delta < 0:
            raise InsufficientFunds(
                f"account {account_id} has insufficient funds for this payment", field="payer_account"
            )


class FakeOutbox(Outbox):
    def __init__(self, state: FakeState, subscribers: frozenset[str] | None = None) -> None:
        self.state = state
        self.subscribers = subscribers

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], *, at: datetime
    ) -> str | None:
        if self.subscribers is not None and app_id not in self.subscribers:
            return None
        event_id = new_id("evt")
        self.state.outbox.append(
            {
                "id": event_id,
                "app_id": app_id,
                "event_type": event_type,
                "subject_id": subject_id,
                "payload": {"event_id": event_id, "event_type": event_type, **payload},
                "status": "pending",
                "next_attempt_at": at,
            }
        )
        return event_id


class FakeAccounts(Accounts):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def visible(self, app_id: str, ids: Sequence[str]) -> dict[str, AccountView]:
        accounts = (self.state.accounts.get(i) for i in ids)
        return {a.opened.view.id: a.opened.view for a in accounts if a and a.opened.app_id == app_id}

    async def open(self, account: NewAccount, *, at: datetime) -> None:
        if account.view.id in self.state.accounts:
            raise ValueError(f"account {account.view.id} exists")  # the SQL storage's key violation
        self.state.accounts[account.view.id] = FakeAccount(account, at)

    async def open_if_missing(self, account: NewAccount, *, at: datetime) -> None:
        if account.view.id not in self.state.accounts:
            self.state.accounts[account.view.id] = FakeAccount(account, at)


class FakeStorage:
    """The committed state, and the ways in: units of work, transactions, flow log, nonces."""

    def __init__(self, subscribers: frozenset[str] | None = None) -> None:
        self.state = FakeState()
        self.subscribers = subscribers
        self.faults = Faults()
        self.units: list[FakeUnitOfWork] = []  # every unit of work opened, in order

    def uow(self) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self)
        self.units.append(uow)
        return uow

    @property
    def commits(self) -> int:
        """How many units of work committed."""
        return sum(1 for uow in self.units if uow.committed)

    def transactions(self) -> FakeTransactions:
        return FakeTransactions(self)


class FakeUnitOfWork(UnitOfWork):
    """As SqlUnitOfWork: the actions given to `after_commit` run when a committed unit of work
    is left, after its state is the committed one; a rollback drops them."""

    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage
        self.committed = False
        self._after = AfterCommitActions()
        self._bind(copy.deepcopy(storage.state))

    def _bind(self, state: FakeState) -> None:
        self.state = state
        self.payments = FakePayments(state)
        self.ledger = FakeLedger(state, self.storage.faults)
        self.outbox = FakeOutbox(state, self.storage.subscribers)
        self.accounts = FakeAccounts(state)
        self.bills = FakeBills(state)
        self.lease_orders = FakeLeaseOrders(state)
        self.payouts = FakePayouts(state)
        self.trades = FakeTradeRows(state)

    async def __aenter__(self) -> FakeUnitOfWork:
        self._after = AfterCommitActions()
        self._bind(copy.deepcopy(self.storage.state))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()
        await self._after.run()

    async def commit(self) -> None:
        self.storage.state = copy.deepcopy(self.state)
        self.committed = True
        self._after.committed()

    async def rollback(self) -> None:
        self._after.rolled_back()
        self._bind(copy.deepcopy(self.storage.state))  # what was not committed is gone

    def after_commit(self, action: AfterCommit) -> None:
        self._after.add(action)

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None:
        self.state.transfers.append((payment, txn_id, at))

    async def write_flow(self, records: Sequence[FlowRecord]) -> None:
        self.state.flow.extend(records)  # committed (or rolled back) with the rest of the state

    async def record_exchanges(
        self, payment_id: str, channel: str, exchanges: Sequence[Exchange], *, at: datetime
    ) -> None:
        self.state.exchanges.extend((payment_id, channel, e, at) for e in exchanges)

    async def add_deferred(
        self, payment_id: str, deferred: Sequence[DeferredPostings], *, at: datetime
    ) -> None:
        self.state.deferred.extend((payment_id, d, at) for d in deferred)


class FakeTransactions(Transactions):
    """The `Transactions` port over fake units of work; `last` is the most recent one."""

    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage
        self.last: FakeUnitOfWork | None = None

    async def __call__(self, work: Callable[[LedgerWork], Awaitable[T]]) -> T:
        async with self.storage.uow() as uow:
            self.last = uow
            # held to the rule of the real storages: the work may wait on its unit of work only
            result = await only_its_own_waits(work, uow)
            await uow.commit()
        return result


class FakeFlowLog(FlowLogSink):
    """Records what is recorded (`records`); `flush()` writes them to the fake storage."""

    def __init__(self, storage: FakeStorage | None = None) -> None:
        self.storage = storage
        self.records: list[FlowRecord] = []
        self._pending: list[FlowRecord] = []

    def record(self, record: FlowRecord) -> None:
        self.records.append(record)
        self._pending.append(record)

    def nodes(self, subject_id: str) -> list[str]:
        """The nodes of `subject_id` in time order: those recorded here and those committed in
        transactions of the fake storage (`LedgerWork.write_flow`)."""
        return [r.node.value for r in self.all_records() if r.subject_id == subject_id]

    def all_records(self) -> list[FlowRecord]:
        committed = list(self.storage.state.flow) if self.storage else []
        for flushed in self.records:  # a flushed record is in both: counted once
            if flushed in committed:
                committed.remove(flushed)
        return sorted([*self.records, *committed], key=lambda r: r.at)

    async def flush(self) -> int:
        batch, self._pending = self._pending, []
        if self.storage is not None:
            self.storage.state.flow.extend(batch)
        return len(batch)


class FakeNonceStore:
    """The nonce store of gateway/auth.py, in memory."""

    def __init__(self, storage: FakeStorage, window: timedelta) -> None:
        self.storage = storage
        self.window = window

    async def claim(self, app_id: str, nonce: str, now: datetime) -> bool:
        if (app_id, nonce) in self.storage.state.nonces:
            return False
        self.storage.state.nonces[(app_id, nonce)] = now
        return True

    async def purge(self, now: datetime) -> int:
        old = [k for k, seen in self.storage.state.nonces.items() if seen < now - 2 * self.window]
        for key in old:
            del self.storage.state.nonces[key]
        return len(old)
