"""Fakes for the payment use cases: an in-memory unit of work that commits or rolls back, scripted
channels, and a builder of a `PaymentService` over them."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from core.flowlog import FlowRecord
from core.ledger import AccountView, Posting
from core.money import Money
from core.payments.model import Payment
from core.payments.routing import Router, RoutingRule
from core.usecases.payments.channels import ChannelAccess
from core.usecases.payments.commands import PaymentCommand, PaymentListener
from core.usecases.payments.policy import PaymentPolicy, QuerySchedule
from core.usecases.payments.service import PaymentService
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail
from ports.channels import Channel, ChannelResult, DeferredPostings, Exchange, PaymentRequest
from ports.storage import ConcurrentUpdate, DuplicateRequest, UnitOfWork

T = TypeVar("T")
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Stored:
    """What is committed: payments with their schedule columns, ledger posts, outbox events."""

    payments: dict[str, Payment] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: list[tuple[str, tuple[Posting, ...]]] = field(default_factory=list)
    events: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    exchanges: list[tuple[str, Exchange]] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> owner app
    commits: int = 0


class FakePayments:
    def __init__(self, state: Stored) -> None:
        self.state = state

    async def add(self, payment: Payment, **schedule: Any) -> None:
        if await self.by_request_no(payment.app_id, payment.out_request_no) is not None:
            raise DuplicateRequest(payment.out_request_no)
        self.state.payments[payment.id] = payment
        self.state.schedules[payment.id] = dict(schedule)

    async def get(self, payment_id: str) -> Payment | None:
        return self.state.payments.get(payment_id)

    async def get_for_update(self, payment_id: str) -> Payment | None:
        return self.state.payments.get(payment_id)

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        for p in self.state.payments.values():
            if (p.app_id, p.out_request_no) == (app_id, out_request_no):
                return p
        return None

    async def save(self, payment: Payment, *, expected_status: str, **schedule: Any) -> None:
        if self.state.payments[payment.id].status.value != expected_status:
            raise ConcurrentUpdate(payment.id)
        self.state.payments[payment.id] = payment
        self.state.schedules[payment.id].update(schedule)


class FakeLedger:
    def __init__(self, state: Stored) -> None:
        self.state = state

    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        self.state.posts.append((subject_id, tuple(postings)))
        return f"txn-{len(self.state.posts)}"


class FakeOutbox:
    def __init__(self, state: Stored) -> None:
        self.state = state

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], *, at: datetime
    ) -> str | None:
        self.state.events.append((app_id, event_type, subject_id, payload))
        return f"evt-{len(self.state.events)}"


class FakeAccounts:
    def __init__(self, state: Stored) -> None:
        self.state = state

    async def visible(self, app_id: str, ids: Sequence[str]) -> dict[str, AccountView]:
        return {i: None for i in ids if self.state.accounts.get(i) == app_id}  # type: ignore[misc]


class FakeUnitOfWork:
    """Works on a copy of the store; `commit` publishes it, leaving without commit drops it."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def __aenter__(self) -> UnitOfWork:
        self.work = copy.deepcopy(self.store.state)
        self.payments = FakePayments(self.work)
        self.ledger = FakeLedger(self.work)
        self.outbox = FakeOutbox(self.work)
        self.accounts = FakeAccounts(self.work)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        self.work.commits += 1
        self.store.state = self.work

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None:
        return None

    async def record_exchanges(
        self, payment_id: str, channel: str, exchanges: Sequence[Exchange], *, at: datetime
    ) -> None:
        self.work.exchanges += [(payment_id, e) for e in exchanges]

    async def add_deferred(
        self, payment_id: str, deferred: Sequence[DeferredPostings], *, at: datetime
    ) -> None:
        return None


class FakeStore:
    def __init__(self) -> None:
        self.state = Stored()

    def uow(self) -> UnitOfWork:
        return FakeUnitOfWork(self)

    async def transact(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self.uow() as uow:
            out = await work(uow)
            await uow.commit()
            return out


class ScriptedPort:
    """A payment and query port answering from a script; `calls` counts what it was asked."""

    def __init__(self, *answers: ChannelResult | BaseException, hang: bool = False) -> None:
        self.answers = list(answers)
        self.hang = hang
        self.calls: list[PaymentRequest] = []
        self.on_call: Callable[[PaymentRequest], None] | None = None

    async def _answer(self, request: PaymentRequest) -> ChannelResult:
        self.calls.append(request)
        if self.on_call is not None:
            self.on_call(request)
        if self.hang:
            await asyncio.Event().wait()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        return await self._answer(request)

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        return await self._answer(request)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@dataclass
class Harness:
    service: PaymentService
    store: FakeStore
    flow: list[FlowRecord]
    clock: Clock

    @property
    def state(self) -> Stored:
        return self.store.state

    def nodes(self, payment_id: str) -> list[str]:
        return [r.node.value for r in self.flow if r.subject_id == payment_id]


class FlowList(list[FlowRecord]):
    def record(self, record: FlowRecord) -> None:
        self.append(record)


def harness(
    channel: Channel,
    *,
    listeners: Sequence[PaymentListener] = (),
    limit: str | None = None,
    steps: tuple[int, ...] = (10, 60),
    timeout: float = 30.0,
) -> Harness:
    from decimal import Decimal

    store, flow, clock = FakeStore(), FlowList(), Clock()
    rules = [RoutingRule(pay_method=method, channel=channel.code) for method in sorted(channel.pay_methods)]
    router = Router(rules, {channel.code: channel.capability})
    service = PaymentService(
        PaymentStorage(store.uow, store.uow, store.transact),
        ChannelAccess(router, {channel.code: channel}, timeout=timeout),
        PaymentPolicy(
            max_amounts={"CNY": Decimal(limit)} if limit else {},
            schedules={},
            default_schedule=QuerySchedule(steps, 3600),
        ),
        PaymentTrail(flow, clock),
        listeners,
    )
    return Harness(service, store, flow, clock)


def external(port: ScriptedPort, *, query: bool = True) -> Channel:
    return Channel(
        "bank",
        frozenset({"bank"}),
        frozenset({"CNY"}),
        payment=port,
        query=port if query else None,
    )


def ledger(port: ScriptedPort) -> Channel:
    return Channel("ledger", frozenset({"transfer"}), frozenset({"CNY"}), payment=port, atomic=True)


def command(out_request_no: str = "r-1", amount: int = 1_000, **changes: Any) -> PaymentCommand:
    fields: dict[str, Any] = {
        "app_id": "app",
        "out_request_no": out_request_no,
        "request_hash": f"hash-{out_request_no}",
        "pay_method": "bank",
        "amount": Money(amount, "CNY"),
        "payer_account": None,
        "payee_account": "6222000011112222",
    }
    return PaymentCommand(**{**fields, **changes})
