"""In-memory fakes of the ports the lease use cases need: a unit of work with an outbox, a lease
order repository with the version check of the real one, a flow-log sink, a lease channel."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from core.lease.order import LeaseOrder
from core.lease.request import check_order
from core.usecases.lease.book import LeaseBook
from core.usecases.lease.channel import LeaseChannelCalls
from gateway.http.schemas.lease import LeaseOrderBody
from ports.channels import ChannelStatus
from ports.lease import LeaseAnswer
from ports.storage import ConcurrentUpdate

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
ORDER_ID = "lse_0195f2a3b4c5d6e7f8091a2b3c4"
BUYER = "2088102146225135"


def new_order(order_id: str = ORDER_ID) -> LeaseOrder:
    body = LeaseOrderBody.model_validate(
        {
            "out_order_no": "RENT-1",
            "buyer_id": BUYER,
            "title": "iPhone 16 租赁",
            "total_amount": "200.00",
            "period_count": 2,
            "periods": [
                {"due_date": "2026-03-01", "amount": "100.00"},
                {"due_date": "2026-04-01", "amount": "100.00"},
            ],
        }
    )
    return LeaseOrder.new(order_id, "shop", check_order(body), "hash", "ant_lease", T0)


def contract_signed(order: LeaseOrder) -> LeaseOrder:
    """Synced, and its contract signed by its one party."""
    order = order.synced("CH-1", T0)
    order = order.contract_signing("TPL", "C1", "https://sign/lessee", {"lessee": "u"}, ["lessee"], T0)
    return order.contract_party_signed("C1", "lessee", T0)


def collecting(order: LeaseOrder) -> LeaseOrder:
    """Contract and withholding agreement signed: rent may be collected."""
    order = contract_signed(order)
    attempt, external = order.next_agreement_attempt()
    order = order.agreement_signing(attempt, "https://page", T0)
    return order.agreement_signed(external, "20265401", BUYER, T0)


@dataclass
class Store:
    """What the fake database holds; units of work see it at once (no isolation needed here)."""

    orders: dict[str, LeaseOrder] = field(default_factory=dict)
    events: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    commits: int = 0
    # saves that fail once with ConcurrentUpdate, as if another process saved first
    conflicts: int = 0


class FakeOutbox:
    def __init__(self, pending: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        self.pending = pending

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], **_: Any
    ) -> None:
        self.pending.append((app_id, event_type, subject_id, payload))


class FakeUnitOfWork:
    """Events and saved orders reach the store only on commit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending_events: list[tuple[str, str, str, dict[str, Any]]] = []
        self.pending_orders: dict[str, LeaseOrder] = {}
        self.outbox = FakeOutbox(self.pending_events)
        self.exchanges: list[Any] = []

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        self.store.orders.update(self.pending_orders)
        self.store.events.extend(self.pending_events)
        self.store.commits += 1

    async def record_exchanges(self, *args: Any, **kwargs: Any) -> None:
        self.exchanges.append(args)


class FakeLeaseOrders:
    """The lease repository over the store, with the real one's version check."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def _current(self, order_id: str) -> LeaseOrder | None:
        return self.uow.pending_orders.get(order_id) or self.uow.store.orders.get(order_id)

    async def get(self, order_id: str) -> LeaseOrder | None:
        return self._current(order_id)

    async def get_for_update(self, order_id: str) -> LeaseOrder | None:
        return self._current(order_id)

    async def save(self, order: LeaseOrder, *, expected_version: int) -> LeaseOrder:
        stored = self._current(order.id)
        if self.uow.store.conflicts:
            self.uow.store.conflicts -= 1
            raise ConcurrentUpdate(order.id)
        if stored is None or stored.version != expected_version:
            raise ConcurrentUpdate(order.id)
        saved = replace(order, version=expected_version + 1)
        self.uow.pending_orders[order.id] = saved
        return saved


class FlowSink:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def record(self, record: Any) -> None:
        self.records.append(record)


class FakeLeasePort:
    """A lease channel that does whatever it is asked and remembers what that was."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def _done(self, name: str) -> LeaseAnswer:
        self.calls.append(name)
        return LeaseAnswer(ChannelStatus.SUCCEEDED)

    async def sync_order(self, order: LeaseOrder) -> LeaseAnswer:
        return await self._done("sync_order")

    async def query_order(self, order: LeaseOrder, query_type: str) -> LeaseAnswer:
        return await self._done("query_order")

    async def finalise_contract(self, order: LeaseOrder) -> LeaseAnswer:
        return await self._done("finalise_contract")

    async def unsign_agreement(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        return await self._done("unsign_agreement")

    async def confirm_async_unsign(self, order: LeaseOrder, refusal: Any) -> LeaseAnswer:
        return await self._done("confirm_async_unsign")

    async def cancel_plan(self, order: LeaseOrder, reason: Any, note: str) -> LeaseAnswer:
        return await self._done("cancel_plan")

    async def close_order(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        return await self._done("close_order")


@dataclass
class FakeChannel:
    code: str
    extensions: dict[str, Any]
    signing: Any = None


@dataclass
class Payments:
    """The part of PaymentService the lease channel calls read: the installed channels."""

    channels: dict[str, Any]


def book_over(store: Store) -> LeaseBook:
    """A LeaseBook over the fake store, its clock stopped at T0."""
    return LeaseBook(lambda: FakeUnitOfWork(store), FakeLeaseOrders, FlowSink(), clock=lambda: T0)


def wired(store: Store, port: FakeLeasePort) -> tuple[LeaseBook, LeaseChannelCalls]:
    """The book and the channel calls of the lease use cases, `port` installed as ant_lease."""
    book = book_over(store)
    return book, LeaseChannelCalls(book, Payments({"ant_lease": FakeChannel("ant_lease", {"lease": port})}))
