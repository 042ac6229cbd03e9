"""Storage ports: what the core's use cases need from persistence, as Protocols."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

from core.flowlog import FlowRecord
from core.ledger import AccountView, NewAccount, Posting
from core.payments.model import Payment
from ports.after_commit import AfterCommit
from ports.bills import BillRepository
from ports.channels import DeferredPostings, Exchange
from ports.lease import LeaseRepository
from ports.payouts import PayoutRepository
from ports.trades import TradeRepository
from ports.work_guard import only_its_own_waits


class DuplicateRequest(Exception):
    """The (app_id, out_request_no) pair is taken."""


class ConcurrentUpdate(Exception):
    """Someone else changed the row first; reload and decide again."""


class PaymentRepository(Protocol):
    async def add(self, payment: Payment, **schedule: Any) -> None:
        """Insert; raises DuplicateRequest when (app_id, out_request_no) exists."""
        ...

    async def get(self, payment_id: str) -> Payment | None: ...

    async def get_for_update(self, payment_id: str) -> Payment | None: ...

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None: ...

    async def save(self, payment: Payment, *, expected_status: str, **schedule: Any) -> None:
        """Update; raises ConcurrentUpdate when the stored status is no longer `expected_status`."""
        ...


class Ledger(Protocol):
    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        """Apply balanced postings atomically; raises InsufficientFunds. Returns the txn id."""
        ...


class Outbox(Protocol):
    async def enqueue(
        self,
        app_id: str,
        event_type: str,
        subject_id: str,
        payload: dict[str, Any],
        *,
        at: datetime,
    ) -> str | None:
        """Queue a notification to the app in the current transaction; returns the event id
        (None: the app takes no notifications, nothing was queued)."""
        ...


class Accounts(Protocol):
    async def visible(self, app_id: str, ids: Sequence[str]) -> dict[str, AccountView]:
        """The accounts among `ids` that `app_id` may use (its own)."""
        ...

    async def open(self, account: NewAccount, *, at: datetime) -> None:
        """Insert the account with zero balances; its id must be new."""
        ...

    async def open_if_missing(self, account: NewAccount, *, at: datetime) -> None:
        """Open the account unless one with its id exists (then nothing changes). Safe under
        concurrent callers: one of them opens it, none of them fails."""
        ...


class LedgerWork(Protocol):
    """What a ledger payment's work may use: payments, ledger, outbox, accounts and the payment's
    records. `Transactions` hands its work this much and no more: the embedded SQLite storage
    runs that work on its writer thread over plain sqlite3 (gateway/storage/sqlite_uow.py), which
    stores no workflow's records (bills, lease orders, payouts)."""

    payments: PaymentRepository
    ledger: Ledger
    outbox: Outbox
    accounts: Accounts

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None: ...

    async def record_exchanges(
        self, payment_id: str, channel: str, exchanges: Sequence[Exchange], *, at: datetime
    ) -> None: ...

    async def add_deferred(
        self, payment_id: str, deferred: Sequence[DeferredPostings], *, at: datetime
    ) -> None: ...

    async def write_flow(self, records: Sequence[FlowRecord]) -> None:
        """Flow-log nodes that are true only if this transaction commits (a payment saved, a
        bill moved): written in it, so they are durable with it and gone if it rolls back."""
        ...


class UnitOfWork(LedgerWork, Protocol):
    """One transaction over all of the storage: a ledger payment's ports plus the workflows'
    repositories, so a bill, a lease order, a payout or a trade moves in the same transaction as
    the payment that pays it. `async with uow:` begins it, `commit()` makes it durable, leaving
    without a commit rolls it back. `after_commit(action)` runs `action` once the transaction
    has committed and the unit of work is left, never if it rolls back (ports/after_commit.py)."""

    bills: BillRepository
    lease_orders: LeaseRepository
    payouts: PayoutRepository
    trades: TradeRepository

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` after this transaction commits, when the unit of work is left (its
        locks released), at most once; dropped if it rolls back. A failing action is logged:
        the committed transaction stands and leaving the unit of work raises nothing for it."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]

T = TypeVar("T")


class Transactions(Protocol):
    """Runs a ledger payment's `work` in one transaction and commits it; an exception rolls all
    of it back.

    `work` may only use the `LedgerWork` it is given and may await nothing else (no channel
    call, no other I/O): the embedded SQLite storage runs it inside a group commit on its writer
    thread, where nothing can wait. Both implementations refuse a work that waits on anything
    else with a RuntimeError (the SQLite writer's `drive`, `transactions_of`'s `only_its_own_waits`).
    """

    async def __call__(self, work: Callable[[LedgerWork], Awaitable[T]]) -> T: ...


def transactions_of(factory: UnitOfWorkFactory) -> Transactions:
    """The plain way: a unit of work of `factory` per call, its work held to the same rule as on
    the SQLite writer (it may wait only on its unit of work)."""

    async def transact(work: Callable[[LedgerWork], Awaitable[T]]) -> T:
        async with factory() as uow:
            result = await only_its_own_waits(work, uow)
            await uow.commit()
        return result

    return transact


class FlowLogSink(Protocol):
    """The flow log outside the business transactions (seed 002: a failed step keeps its log).
    A record is buffered and written in the next flush; the gateway answers a request only once
    the records that request made are written (docs/ARCHITECTURE.md, "Flow log durability")."""

    def record(self, record: FlowRecord) -> None:
        """Buffer a record; it is written outside the business transaction."""
        ...
