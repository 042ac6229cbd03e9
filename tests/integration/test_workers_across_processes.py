"""Two gateway processes' workers on one PostgreSQL database, running the same rounds at the
same time: no webhook delivered twice, no payment queried twice, no settlement posted twice, one
holder of a round lease at a time, and a crashed holder's claims taken over once they expire."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from paygate_testkit import APP_ID, APP_SECRET, PG_ADMIN_URL, make_settings
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage import tables as t
from gateway.storage.rows import outbox_row
from gateway.workers.leases import RoundLease
from gateway.workers.outbox import OutboxDeliverer
from gateway.workers.query_poller import QueryPoller
from gateway.workers.settlement import SettlementWorker

pytestmark = [
    pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL not set"),
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


class Clock:
    """A clock the test moves; every worker of a test reads the same one."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def engine(container: Any) -> AsyncIterator[AsyncEngine]:
    yield container.engine()
    await container.engine().dispose()


# webhooks --------------------------------------------------------------------------------------


class CountingReceiver:
    """A caller app's webhook endpoint that counts each event id it acknowledged."""

    def __init__(self) -> None:
        self.acknowledged: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)  # a little latency, so the two rounds overlap
        self.acknowledged[request.headers["X-Event-Id"]] += 1
        return web.Response(text="ok")


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[CountingReceiver, str]:
    r = CountingReceiver()
    app = web.Application()
    app.router.add_post("/hook", r.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    return r, str(server.make_url("/hook"))


async def queue_events(engine: AsyncEngine, count: int, at: datetime, **values: Any) -> list[str]:
    ids = [f"evt_{uuid.uuid4().hex[:16]}" for _ in range(count)]
    rows = [outbox_row(i, APP_ID, "payment.succeeded", i, {}, at) | values for i in ids]
    async with engine.begin() as conn:
        await conn.execute(t.outbox.insert(), rows)
    return ids


def deliverers(container: Any, url: str, clock: Clock, session: aiohttp.ClientSession) -> list[Any]:
    settings = make_settings(
        container.settings().database.url,
        apps={APP_ID: {"secret": APP_SECRET, "notify_url": url}},
        notify={"batch_size": 7, "lease_seconds": 30, "timeout_seconds": 5},
    )
    return [
        OutboxDeliverer(container.uow, settings, container.metrics(), lambda: session, clock, holder)
        for holder in ("process-a", "process-b")
    ]


async def test_two_deliverers_never_deliver_one_event_twice(
    container: Any, engine: AsyncEngine, receiver: tuple[CountingReceiver, str]
) -> None:
    counts, url = receiver
    clock = Clock()
    events = await queue_events(engine, 40, clock.now)
    async with aiohttp.ClientSession() as session:
        a, b = deliverers(container, url, clock, session)
        rounds = [await asyncio.gather(a.run_once(), b.run_once()) for _ in range(4)]
    assert all(n > 0 for n in rounds[0])  # both processes took a share of the first round
    assert counts.acknowledged == Counter(dict.fromkeys(events, 1))
    async with engine.connect() as conn:
        statuses = (await conn.execute(sa.select(t.outbox.c.status, t.outbox.c.leased_by))).all()
    assert set(statuses) == {("delivered", None)}


async def test_a_dead_processs_events_are_delivered_once_its_lease_expires(
    container: Any, engine: AsyncEngine, receiver: tuple[CountingReceiver, str]
) -> None:
    counts, url = receiver
    clock = Clock()
    held = await queue_events(
        engine, 5, clock.now, leased_by="dead-process", leased_until=clock.now + timedelta(seconds=30)
    )
    async with aiohttp.ClientSession() as session:
        a, _ = deliverers(container, url, clock, session)
        assert await a.run_once() == 0  # still the dead process's: nobody else sends them yet
        clock.now += timedelta(seconds=31)
        assert await a.run_once() == 5
    assert counts.acknowledged == Counter(dict.fromkeys(held, 1))


# query poller ----------------------------------------------------------------------------------


class CountingPayments:
    """Stands in for PaymentService.resolve: counts each query of a payment."""

    def __init__(self) -> None:
        self.queried: Counter[str] = Counter()

    async def resolve(self, payment: Any, attempts: int) -> Any:
        self.queried[payment.id] += 1
        await asyncio.sleep(0.005)  # the channel's latency, so the two rounds overlap
        return payment


async def processing_payments(engine: AsyncEngine, count: int, due: datetime) -> list[str]:
    ids = [f"pay_{uuid.uuid4().hex[:16]}" for _ in range(count)]
    rows = [
        {
            "id": i,
            "app_id": APP_ID,
            "out_request_no": i,
            "request_hash": "h",
            "pay_method": "bank",
            "channel": "spdb",
            "amount_minor": 100,
            "currency": "CNY",
            "status": "processing",
            "details": {},
            "created_at": due,
            "updated_at": due,
            "next_query_at": due,
            "query_attempts": 0,
            "escalated": False,
        }
        for i in ids
    ]
    async with engine.begin() as conn:
        await conn.execute(t.payments.insert(), rows)
    return ids


async def test_two_pollers_never_query_one_payment_twice(engine: AsyncEngine) -> None:
    clock = Clock()
    ids = await processing_payments(engine, 30, clock.now - timedelta(seconds=1))
    payments = CountingPayments()
    a, b = (QueryPoller(engine, payments, batch=10, clock=clock) for _ in range(2))  # type: ignore[arg-type]
    rounds = [await asyncio.gather(a.run_once(), b.run_once()) for _ in range(3)]
    assert rounds[0] == [10, 10]
    assert payments.queried == Counter(dict.fromkeys(ids, 1))


async def test_a_dead_pollers_claim_is_taken_over_when_it_expires(engine: AsyncEngine) -> None:
    clock = Clock()
    ids = await processing_payments(engine, 3, clock.now - timedelta(seconds=1))
    dead, alive = CountingPayments(), CountingPayments()
    crashed = QueryPoller(engine, dead, batch=10, clock=clock, claim_seconds=30)  # type: ignore[arg-type]
    claimed = await crashed._claim(clock.now)  # claims, then dies before querying
    assert len(claimed) == 3
    poller = QueryPoller(engine, alive, batch=10, clock=clock, claim_seconds=30)  # type: ignore[arg-type]
    assert await poller.run_once() == 0
    clock.now += timedelta(seconds=31)
    assert await poller.run_once() == 3
    assert alive.queried == Counter(dict.fromkeys(ids, 1)) and not dead.queried


# settlement ------------------------------------------------------------------------------------


async def test_two_settlement_workers_post_each_settlement_once(api: Any, container: Any) -> None:
    buyer, seller = await api.open_account(owner="buyer"), await api.open_account(kind="B", owner="seller")
    await api.fund(buyer, "1000.00")
    for _ in range(12):
        status, body = await api.pay(
            amount="10.00", payer_account=buyer, payee_account=seller, settlement="async"
        )
        assert status == 201, body
    workers = [SettlementWorker(container.uow, container.flow(), batch=50) for _ in range(2)]
    applied = [await asyncio.gather(*(w.run_once() for w in workers)) for _ in range(3)]
    assert sum(map(sum, applied)) == 12
    d = t.deferred_settlements
    async with container.engine().connect() as conn:
        tries = (await conn.execute(sa.select(d.c.status, d.c.attempts, d.c.last_error))).all()
    assert set(tries) == {("applied", 1, None)}  # none posted twice, nor refused as a second posting
    _, account = await api.get(f"/v1/accounts/{seller}")
    assert (account["balance"], account["pending_balance"]) == ("120.00", "0.00")
    assert (await api.ledger_ok())["ok"]


# round leases (bill and lease workers) ---------------------------------------------------------


async def test_one_holder_runs_a_round_and_a_dead_holders_lease_is_taken_over(engine: AsyncEngine) -> None:
    clock = Clock()
    running, most = 0, 0

    async def round_() -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1
        return 1

    a, b = (RoundLease(engine, "lease", holder, 10, clock) for holder in ("process-a", "process-b"))
    ran = await asyncio.gather(a.guard(round_)(), b.guard(round_)())
    assert sorted(ran) == [0, 1] and most == 1
    first, second = (a, b) if ran[0] else (b, a)
    assert await second.guard(round_)() == 0  # the first holder's lease has not expired
    clock.now += timedelta(seconds=11)  # the first holder died: nobody renewed its lease
    assert await second.guard(round_)() == 1
    assert await first.guard(round_)() == 0  # back from a stall, it finds the lease taken


async def test_a_released_lease_is_taken_at_once(engine: AsyncEngine) -> None:
    clock = Clock()
    a, b = (RoundLease(engine, "bills", holder, 60, clock) for holder in ("process-a", "process-b"))
    assert await a.hold() and not await b.hold()
    await a.release()  # a process shutting down
    assert await b.hold() and not await a.hold()


class CountingBillRecovery:
    """Stands in for BillRecovery: counts rounds, and how many ran at once across the workers."""

    running = 0
    most = 0

    def __init__(self) -> None:
        from core.usecases.bills.listener import DueBills

        self.due = DueBills()
        self.rounds = 0

    async def process_due(self, limit: int) -> int:
        cls = CountingBillRecovery
        cls.running += 1
        cls.most = max(cls.most, cls.running)
        self.rounds += 1
        await asyncio.sleep(0.01)
        cls.running -= 1
        return 0


async def test_bill_workers_of_two_processes_take_turns_by_lease(engine: AsyncEngine) -> None:
    from gateway.workers.bills import BillWorker

    recoveries = [CountingBillRecovery(), CountingBillRecovery()]
    workers = [
        BillWorker(r, 10, RoundLease(engine, "bills", holder, 60))
        for r, holder in zip(recoveries, "ab", strict=True)
    ]
    stop = asyncio.Event()
    runs = [asyncio.create_task(w.run(0.01, stop)) for w in workers]
    await asyncio.sleep(0.2)
    for r in recoveries:
        r.due.add("bill-woken-by-its-listener")
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*runs)
    holder, other = sorted(recoveries, key=lambda r: r.rounds, reverse=True)
    assert holder.rounds > 1 and other.rounds == 0 and CountingBillRecovery.most == 1
    assert other.due.take() == []  # the other process forgot it: the holder finds it in the table
    async with engine.connect() as conn:
        until = (await conn.execute(sa.select(t.worker_leases.c.leased_until))).scalar_one()
    assert until <= datetime.now(UTC)  # released at shut-down
