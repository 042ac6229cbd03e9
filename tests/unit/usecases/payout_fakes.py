"""In-memory fakes of what the payout use cases need: storage, the payment service, the flow log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import DomainError
from core.flowlog import FlowRecord
from core.payments.model import Payment
from core.payouts.checks import check_item
from core.payouts.model import Payout, PayoutApplication, PayoutStatus
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payouts.context import PayoutContext
from ports.storage import ConcurrentUpdate, DuplicateRequest

NOW = datetime(2024, 5, 20, 8, 0, tzinfo=UTC)


@dataclass
class Store:
    """What the fake units of work share: the payouts, the payments, the outbox, the commits."""

    payouts: dict[str, Payout] = field(default_factory=dict)
    payments: dict[tuple[str, str], Payment] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    commits: int = 0
    races_to_lose: int = 0  # this many saves first find the payout changed by someone else


class FakePayouts:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, payout: Payout) -> None:
        if await self.by_serial_no(payout.app_id, payout.serial_no) is not None:
            raise DuplicateRequest(payout.serial_no)
        self.store.payouts[payout.id] = payout

    async def get(self, payout_id: str) -> Payout | None:
        return self.store.payouts.get(payout_id)

    async def get_for_update(self, payout_id: str) -> Payout | None:
        return self.store.payouts.get(payout_id)

    async def by_serial_no(self, app_id: str, serial_no: str) -> Payout | None:
        found = [p for p in self.store.payouts.values() if (p.app_id, p.serial_no) == (app_id, serial_no)]
        return found[0] if found else None

    async def save(self, payout: Payout, *, expected_status: PayoutStatus) -> None:
        if self.store.races_to_lose:
            self.store.races_to_lose -= 1
            raise ConcurrentUpdate(payout.id)
        if self.store.payouts[payout.id].status is not expected_status:
            raise ConcurrentUpdate(payout.id)
        self.store.payouts[payout.id] = payout


class FakePayments:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        return self.store.payments.get((app_id, out_request_no))


class FakeOutbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], *, at: datetime
    ) -> str:
        self.store.events.append(
            {"app_id": app_id, "type": event_type, "subject": subject_id, "payload": payload, "at": at}
        )
        return f"evt_{len(self.store.events)}"


class FakeUnitOfWork:
    """Writes land at once (the fakes keep no transaction); `commit` is counted."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.payments = FakePayments(store)
        self.outbox = FakeOutbox(store)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        self.store.commits += 1


class FakePaymentService:
    """Records the payments asked for; `refusal`, when set, is raised instead of paying."""

    def __init__(self) -> None:
        self.max_amounts: dict[str, Any] = {}
        self.submitted: list[PaymentCommand] = []
        self.refusal: DomainError | None = None

    def explain(self, request: object) -> object:
        return request

    async def submit(self, command: PaymentCommand) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.submitted.append(command)


class FakeFlow:
    def __init__(self) -> None:
        self.records: list[FlowRecord] = []

    def record(self, record: FlowRecord) -> None:
        self.records.append(record)


@dataclass
class World:
    store: Store
    payments: FakePaymentService
    flow: FakeFlow
    ctx: PayoutContext

    def payout(self, payout_id: str) -> Payout:
        return self.store.payouts[payout_id]


def world() -> World:
    store, payments, flow = Store(), FakePaymentService(), FakeFlow()
    ctx = PayoutContext(
        uow=lambda: FakeUnitOfWork(store),  # type: ignore[arg-type, return-value]
        reads=lambda: FakeUnitOfWork(store),  # type: ignore[arg-type, return-value]
        payouts_of=lambda uow: FakePayouts(store),
        payments=payments,  # type: ignore[arg-type]
        flow=flow,
        clock=lambda: NOW,
    )
    return World(store, payments, flow, ctx)


def application(serial_no: str = "S-1") -> PayoutApplication:
    checked = check_item(
        {
            "serial_no": serial_no,
            "order_serial_no": "O-1",
            "payee_account": "zhangsan@example.com",
            "amount": "12.30",
            "ext": {"type": 2, "pay_method": 1, "reason": "flight cancelled", "payee_name": "张三"},
        }
    )
    assert isinstance(checked, PayoutApplication), checked
    return checked


def stored_payout(w: World, status: PayoutStatus = PayoutStatus.PENDING_REVIEW) -> Payout:
    a = application()
    payout = Payout("pyt_1", "app_1", a, a.fingerprint(), status, NOW, NOW)
    w.store.payouts[payout.id] = payout
    return payout
