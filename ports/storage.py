"""Storage ports: what the core's use cases need from persistence, as Protocols."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

from core.flowlog import FlowRecord
from core.ledger import AccountView, NewAccount, Posting
from core.payments.model import Payment
from ports.channels import DeferredPostings, Exchange


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


class UnitOfWork(Protocol):
    payments: PaymentRepository
    ledger: Ledger
    outbox: Outbox
    accounts: Accounts

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None: ...

    async def record_exchanges(
        self, payment_id: str, channel: str, exchanges: Sequence[Exchange], *, at: datetime
    ) -> None: ...

    async def add_deferred(
        self, payment_id: str, deferred: Sequence[DeferredPostings], *, at: datetime
    ) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]

T = TypeVar("T")


class Transactions(Protocol):
    """Runs `work` in one transaction and commits it; an exception rolls all of it back.

    `work` may only use the unit of work it is given (no channel calls, no other I/O): the
    embedded SQLite storage runs it inside a group commit on its writer thread.
    """

    async def __call__(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T: ...


def transactions_of(factory: UnitOfWorkFactory) -> Transactions:
    """The plain way: a unit of work of `factory` per call."""

    async def transact(work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with factory() as uow:
            result = await work(uow)
            await uow.commit()
        return result

    return transact


class FlowLogSink(Protocol):
    def record(self, record: FlowRecord) -> None:
        """Buffer a record; it is written outside the business transaction."""
        ...
