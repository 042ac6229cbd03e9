"""The storage implementations under the contract suite, each with a probe that reads back what
was committed: the in-memory fake, the SQLAlchemy unit of work (SQLite, PostgreSQL) and the
SQLite writer's unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from fakes.storage import FakeFlowLog, FakeNonceStore, FakeStorage
from sqlalchemy.ext.asyncio import AsyncEngine

from core.flowlog import FlowRecord
from core.ledger import SubAccount
from gateway.storage import tables as t
from gateway.storage.rows import postings_from_json
from ports.storage import Transactions, UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")

# apps that take notifications (have a notify_url); any other app gets none queued
SUBSCRIBERS = frozenset({"app_a", "app_b"})
NONCE_WINDOW = timedelta(minutes=5)


class FlushingSink(Protocol):
    def record(self, record: FlowRecord) -> None: ...

    async def flush(self) -> int: ...


class Nonces(Protocol):
    async def claim(self, app_id: str, nonce: str, now: datetime) -> bool: ...

    async def purge(self, now: datetime) -> int: ...


@dataclass(frozen=True)
class Entry:
    account_id: str
    sub_account: SubAccount
    amount_minor: int
    balance_after_minor: int


class Probe(Protocol):
    """What a test reads back after a commit, in one shape for every implementation."""

    async def balance(self, account_id: str) -> tuple[int, int]: ...

    async def entries(self, txn_id: str) -> list[Entry]: ...

    async def outbox(self) -> list[dict[str, Any]]: ...

    async def transfers(self) -> list[tuple[str, str, int]]: ...

    async def exchanges(self) -> list[tuple[str, str, str, str | None, str | None]]: ...

    async def deferred(self) -> list[tuple[str, int, str, tuple[Any, ...]]]: ...

    async def flow(self) -> list[tuple[str, str, str, str]]: ...

    async def schedule(self, payment_id: str) -> dict[str, Any]: ...


@dataclass
class StorageUnderTest:
    name: str
    transact: Transactions  # a ledger payment's work (on the SQLite writer: its thread)
    flow: FlushingSink
    nonces: Nonces
    probe: Probe
    units: UnitOfWorkFactory  # whole units of work (the workflows' repositories too)

    async def in_uow(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """`work` in one whole unit of work, committed."""
        async with self.units() as uow:
            result = await work(uow)
            await uow.commit()
        return result


class FakeProbe:
    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage

    async def balance(self, account_id: str) -> tuple[int, int]:
        b = self.storage.state.accounts[account_id].balances
        return b[SubAccount.AVAILABLE], b[SubAccount.PENDING]

    async def entries(self, txn_id: str) -> list[Entry]:
        return [
            Entry(e.posting.account_id, e.posting.sub_account, e.posting.amount.minor, e.balance_after_minor)
            for e in self.storage.state.entries
            if e.txn_id == txn_id
        ]

    async def outbox(self) -> list[dict[str, Any]]:
        keys = ("id", "app_id", "event_type", "subject_id", "payload")
        return [{k: event[k] for k in keys} for event in self.storage.state.outbox]

    async def transfers(self) -> list[tuple[str, str, int]]:
        return [(p.id, txn, p.amount.minor) for p, txn, _ in self.storage.state.transfers]

    async def exchanges(self) -> list[tuple[str, str, str, str | None, str | None]]:
        return [(s, c, e.operation, e.response, e.error) for s, c, e, _ in self.storage.state.exchanges]

    async def deferred(self) -> list[tuple[str, int, str, tuple[Any, ...]]]:
        return [(p, d.order, d.kind, d.postings) for p, d, _ in self.storage.state.deferred]

    async def flow(self) -> list[tuple[str, str, str, str]]:
        return [(r.subject_id, r.node.value, r.outcome.value, r.message) for r in self.storage.state.flow]

    async def schedule(self, payment_id: str) -> dict[str, Any]:
        return dict(self.storage.state.schedules[payment_id])


class SqlProbe:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _all(self, stmt: sa.Select[Any]) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).all())

    async def balance(self, account_id: str) -> tuple[int, int]:
        a = t.accounts
        (row,) = await self._all(sa.select(a).where(a.c.id == account_id))
        return row.available_minor, row.pending_minor

    async def entries(self, txn_id: str) -> list[Entry]:
        e = t.ledger_entries
        rows = await self._all(sa.select(e).where(e.c.txn_id == txn_id).order_by(e.c.id))
        return [
            Entry(r.account_id, SubAccount(r.sub_account), r.amount_minor, r.balance_after_minor)
            for r in rows
        ]

    async def outbox(self) -> list[dict[str, Any]]:
        o = t.outbox
        rows = await self._all(sa.select(o.c.id, o.c.app_id, o.c.event_type, o.c.subject_id, o.c.payload))
        return [dict(r._mapping) for r in rows]

    async def transfers(self) -> list[tuple[str, str, int]]:
        x = t.transfer_logs
        rows = await self._all(
            sa.select(x.c.payment_id, x.c.ledger_txn_id, x.c.amount_minor).order_by(x.c.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def exchanges(self) -> list[tuple[str, str, str, str | None, str | None]]:
        x = t.channel_exchanges
        stmt = sa.select(x.c.subject_id, x.c.channel, x.c.operation, x.c.response, x.c.error).order_by(x.c.id)
        return [(r[0], r[1], r[2], r[3], r[4]) for r in await self._all(stmt)]

    async def deferred(self) -> list[tuple[str, int, str, tuple[Any, ...]]]:
        d = t.deferred_settlements
        rows = await self._all(sa.select(d).order_by(d.c.id))
        return [(r.payment_id, r.seq, r.kind, postings_from_json(r.postings)) for r in rows]

    async def flow(self) -> list[tuple[str, str, str, str]]:
        f = t.flow_log
        stmt = sa.select(f.c.subject_id, f.c.node, f.c.outcome, f.c.message).order_by(f.c.id)
        return [(r[0], r[1], r[2], r[3]) for r in await self._all(stmt)]

    async def schedule(self, payment_id: str) -> dict[str, Any]:
        p = t.payments
        stmt = sa.select(p.c.next_query_at, p.c.query_attempts, p.c.escalated).where(p.c.id == payment_id)
        (row,) = await self._all(stmt)
        return dict(row._mapping)


def fake_storage() -> StorageUnderTest:
    storage = FakeStorage(SUBSCRIBERS)
    return StorageUnderTest(
        "fake",
        storage.transactions(),
        FakeFlowLog(storage),
        FakeNonceStore(storage, NONCE_WINDOW),
        FakeProbe(storage),
        storage.uow,
    )
