"""Signed webhooks from the transactional outbox: delivery, retries, dead letters, replay, restart."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from dependency_injector import providers
from paygate_testkit import APP_ID, APP_SECRET, SignedClient, make_settings

from gateway.auth import sign


class Receiver:
    """A caller app's webhook endpoint on 127.0.0.1 that checks every signature."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = sign(
            APP_SECRET,
            "POST",
            request.path_qs,
            request.headers["X-Timestamp"],
            request.headers["X-Nonce"],
            body,
        )
        assert request.headers["X-Signature"] == expected
        assert request.headers["X-App-Id"] == APP_ID
        assert hashlib.sha256(body).hexdigest()
        if self.fail_with:
            return web.Response(status=self.fail_with)
        event = json.loads(body)
        assert event["event_id"] == request.headers["X-Event-Id"]
        self.events.append(event)
        self.arrived.set()
        return web.Response(text="ok")


@pytest.fixture
async def receiver(aiohttp_server: Any) -> AsyncIterator[tuple[Receiver, str]]:
    r = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/paygate", r.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield r, str(server.make_url("/hooks/paygate?src=paygate"))


def notify_settings(database_url: str, url: str, **workers: Any) -> Any:
    return make_settings(
        database_url,
        apps={
            APP_ID: {"secret": APP_SECRET, "notify_url": url},
            "other": {"secret": "other-secret-0123456789"},
        },
        notify={"retry_schedule_seconds": [0, 0], "poll_interval_seconds": 0.05},
        workers={"enabled": False, **workers},
    )


async def build_api(aiohttp_client: Any, settings: Any) -> SignedClient:
    from gateway.app import create_app
    from gateway.container import Container

    container = Container()
    container.settings.override(providers.Object(settings))
    return SignedClient(await aiohttp_client(create_app(container)))


def deliverer_of(api: SignedClient, session: aiohttp.ClientSession) -> Any:
    from gateway.keys import CONTAINER
    from gateway.workers.outbox import OutboxDeliverer

    c = api.client.app[CONTAINER]
    return OutboxDeliverer(c.uow, c.settings(), c.metrics(), lambda: session)


async def paid(api: SignedClient) -> dict[str, Any]:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "10.00")
    status, payment = await api.pay(
        out_request_no="notify-me", amount="2.50", payer_account=alice, payee_account=bob
    )
    assert status == 201
    return dict(payment)


async def test_final_result_is_delivered_as_a_signed_webhook(
    aiohttp_client: Any, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    r, url = receiver
    api = await build_api(aiohttp_client, notify_settings(database_url, url))
    payment = await paid(api)
    async with aiohttp.ClientSession() as session:
        assert await deliverer_of(api, session).run_once() == 1
        assert await deliverer_of(api, session).run_once() == 0, "delivered once, not again"
    [event] = r.events
    assert event["event_type"] == "payment.succeeded"
    assert event["payment"]["id"] == payment["id"] and event["payment"]["out_request_no"] == "notify-me"
    _, delivered = await api.get("/ops/notifications?status=delivered")
    assert [n["subject_id"] for n in delivered["data"]] == [payment["id"]]


async def test_failing_endpoint_is_retried_then_parked_and_replayed(
    aiohttp_client: Any, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    r, url = receiver
    r.fail_with = 503
    api = await build_api(aiohttp_client, notify_settings(database_url, url))
    await paid(api)
    async with aiohttp.ClientSession() as session:
        deliverer = deliverer_of(api, session)
        for _ in range(3):  # the first try plus the two retries of the schedule
            assert await deliverer.run_once() == 1
        assert await deliverer.run_once() == 0
        _, dead = await api.get("/ops/notifications?status=dead")
        [item] = dead["data"]
        assert item["attempts"] == 3 and item["last_error"] == "HTTP 503"
        r.fail_with = None
        status, replayed = await api.post(f"/ops/notifications/{item['id']}/replay")
        assert status == 202 and replayed["status"] == "pending"
        assert await deliverer.run_once() == 1
    assert len(r.events) == 1 and r.events[0]["event_id"] == item["id"]


async def test_pending_notification_survives_a_restart(
    aiohttp_client: Any, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    r, url = receiver
    first = await build_api(aiohttp_client, notify_settings(database_url, url))
    payment = await paid(first)
    await first.client.close()  # the gateway stops before any delivery
    # a new gateway process on the same database, with its workers running
    second = await build_api(
        aiohttp_client, notify_settings(database_url, url, enabled=True, poll_interval_seconds=0.05)
    )
    await asyncio.wait_for(r.arrived.wait(), timeout=10)
    assert [e["payment"]["id"] for e in r.events] == [payment["id"]]
    await second.client.close()


async def test_a_webhook_being_delivered_cannot_be_replayed_and_goes_out_once(
    aiohttp_client: Any, aiohttp_server: Any, database_url: str
) -> None:
    """A replay while a deliverer holds the webhook (its request under way) is refused: queued
    again then, a second deliverer would send it alongside the first. Once that attempt has
    ended, a delivered webhook may be sent again on an operator's word."""
    arrived, release, bodies = asyncio.Event(), asyncio.Event(), []

    async def slow(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        arrived.set()
        await release.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", slow)
    server = await aiohttp_server(app, host="127.0.0.1")
    api = await build_api(aiohttp_client, notify_settings(database_url, str(server.make_url("/hooks"))))
    await paid(api)
    async with aiohttp.ClientSession() as session:
        first = asyncio.create_task(deliverer_of(api, session).run_once())
        await asyncio.wait_for(arrived.wait(), timeout=10)
        _, listed = await api.get("/ops/notifications")
        [item] = listed["data"]
        status, refused = await api.post(f"/ops/notifications/{item['id']}/replay")
        assert (status, refused["error"]["code"]) == (409, "NOTIFICATION_IN_DELIVERY"), refused
        assert await deliverer_of(api, session).run_once() == 0, "another deliverer leaves it alone"
        release.set()
        assert await first == 1
        assert await deliverer_of(api, session).run_once() == 0
        assert len(bodies) == 1
        status, replayed = await api.post(f"/ops/notifications/{item['id']}/replay")
        assert (status, replayed["status"], replayed["attempts"]) == (202, "pending", 0), replayed
        assert await deliverer_of(api, session).run_once() == 1
    assert len(bodies) == 2 and bodies[0] == bodies[1]


async def test_unknown_notification_cannot_be_replayed(api: SignedClient) -> None:
    status, body = await api.post("/ops/notifications/evt_missing/replay")
    assert status == 404 and body["error"]["code"] == "NOTIFICATION_NOT_FOUND"


async def test_nothing_is_queued_for_an_app_without_notify_url(
    aiohttp_client: Any, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    from gateway.keys import CONTAINER
    from gateway.storage import tables as t

    r, url = receiver
    api = await build_api(aiohttp_client, notify_settings(database_url, url))
    await paid(api)  # APP_ID has a notify_url
    quiet = api.as_app("other", "other-secret-0123456789")
    alice, bob = await quiet.open_account(), await quiet.open_account()
    await quiet.fund(alice, "10.00")
    status, payment = await quiet.pay(
        out_request_no="quiet-1", amount="1.00", payer_account=alice, payee_account=bob
    )
    assert status == 201 and payment["status"] == "succeeded"
    engine = api.client.app[CONTAINER].engine()
    async with engine.connect() as conn:
        apps = (await conn.execute(sa.select(t.outbox.c.app_id))).scalars().all()
    assert apps == [APP_ID]


async def test_a_backlog_larger_than_a_batch_is_drained_in_one_go(
    aiohttp_client: Any, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    """Seven events, batches of three: one drain works them all off in rounds back to back
    (3, 3, 1, then an empty claim), not one batch per poll interval."""
    r, url = receiver
    settings = make_settings(
        database_url,
        apps={APP_ID: {"secret": APP_SECRET, "notify_url": url}},
        notify={"batch_size": 3, "concurrency": 2},
        workers={"enabled": False},
    )
    api = await build_api(aiohttp_client, settings)
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "10.00")
    for _ in range(7):
        status, _payment = await api.pay(amount="1.00", payer_account=alice, payee_account=bob)
        assert status == 201
    async with aiohttp.ClientSession() as session:
        deliverer = deliverer_of(api, session)
        drained = await deliverer.drain(asyncio.Event())
        assert (drained.rounds, drained.attempted) == (4, 7)
        again = await deliverer.drain(asyncio.Event())
        assert (again.rounds, again.attempted) == (1, 0), "each event delivered once"
    assert len({e["event_id"] for e in r.events}) == len(r.events) == 7
    _, delivered = await api.get("/ops/notifications?status=delivered&limit=20")
    assert len(delivered["data"]) == 7


async def test_a_drain_stops_between_rounds_when_told(
    aiohttp_client: Any, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    r, url = receiver
    settings = make_settings(
        database_url,
        apps={APP_ID: {"secret": APP_SECRET, "notify_url": url}},
        notify={"batch_size": 1},
        workers={"enabled": False},
    )
    api = await build_api(aiohttp_client, settings)
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "10.00")
    for _ in range(3):
        assert (await api.pay(amount="1.00", payer_account=alice, payee_account=bob))[0] == 201
    stop = asyncio.Event()
    stop.set()
    async with aiohttp.ClientSession() as session:
        drained = await deliverer_of(api, session).drain(stop)
    assert (drained.rounds, drained.attempted) == (0, 0) and r.events == []


async def test_webhooks_in_flight_stay_within_notify_concurrency(
    aiohttp_client: Any, database_url: str, aiohttp_server: Any
) -> None:
    """Five events in one round, at most two webhooks in flight at once."""
    in_flight = peak = 0
    two_in = asyncio.Event()
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight >= 2:
            two_in.set()
        # hold the request until a second one is in flight (or briefly, if none comes)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(two_in.wait(), timeout=1)
        seen.append(request.headers["X-Event-Id"])
        in_flight -= 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    settings = make_settings(
        database_url,
        apps={APP_ID: {"secret": APP_SECRET, "notify_url": str(server.make_url("/hooks"))}},
        notify={"batch_size": 5, "concurrency": 2},
        workers={"enabled": False},
    )
    api = await build_api(aiohttp_client, settings)
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "10.00")
    for _ in range(5):
        assert (await api.pay(amount="1.00", payer_account=alice, payee_account=bob))[0] == 201
    async with aiohttp.ClientSession() as session:
        assert await deliverer_of(api, session).run_once() == 5
    assert peak == 2 and len(set(seen)) == 5


async def test_a_commit_that_queued_an_event_wakes_the_deliverer(
    aiohttp_client: Any, database_url: str, receiver: tuple[Receiver, str]
) -> None:
    """The deliverer sleeps with a poll interval of an hour; a payment's commit brings its webhook
    at once. A commit that queued nothing (an app without notify_url) does not wake it."""
    from gateway.keys import CONTAINER
    from gateway.workers.outbox import OutboxDeliverer

    r, url = receiver
    api = await build_api(aiohttp_client, notify_settings(database_url, url))
    c = api.client.app[CONTAINER]
    woken = c.events_committed()
    quiet = api.as_app("other", "other-secret-0123456789")
    alice, bob = await quiet.open_account(), await quiet.open_account()
    await quiet.fund(alice, "10.00")
    assert (await quiet.pay(amount="1.00", payer_account=alice, payee_account=bob))[0] == 201
    assert not woken.is_set(), "nothing was queued: nothing to wake the deliverer for"
    stop, idle = asyncio.Event(), asyncio.Event()
    async with aiohttp.ClientSession() as session:
        deliverer = OutboxDeliverer(c.uow, c.settings(), c.metrics(), lambda: session, wake=woken)
        drain = deliverer.drain

        async def drain_then_sleep(stop: asyncio.Event) -> Any:
            drained = await drain(stop)
            idle.set()  # the deliverer now waits for `wake` or the hour
            return drained

        deliverer.drain = drain_then_sleep  # type: ignore[method-assign]
        running = asyncio.ensure_future(deliverer.run(3600, stop))
        await asyncio.wait_for(idle.wait(), timeout=10)  # a hang guard, far below the hour
        assert r.events == []
        payment = await paid(api)
        await asyncio.wait_for(r.arrived.wait(), timeout=10)  # a hang guard, far below the hour
        stop.set()
        await running
    assert [e["payment"]["id"] for e in r.events] == [payment["id"]]


async def test_the_next_round_is_claimed_while_one_is_in_flight(
    aiohttp_client: Any, database_url: str, aiohttp_server: Any
) -> None:
    """The receiver holds the first webhook until a second one arrives. The second event is
    committed while the first is held: the deliverer claims it and posts it in a round of its
    own at once, without waiting for the first round to end."""
    from gateway.keys import CONTAINER
    from gateway.workers.outbox import OutboxDeliverer

    first_in, second_in = asyncio.Event(), asyncio.Event()
    overlapped: list[bool] = []

    async def handle(request: web.Request) -> web.Response:
        if first_in.is_set():
            second_in.set()
            return web.Response(text="ok")
        first_in.set()
        with contextlib.suppress(TimeoutError):  # a hang guard: without pipelining it ends the test
            await asyncio.wait_for(second_in.wait(), timeout=5)
        overlapped.append(second_in.is_set())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    settings = make_settings(
        database_url,
        apps={APP_ID: {"secret": APP_SECRET, "notify_url": str(server.make_url("/hooks"))}},
        notify={"batch_size": 5, "concurrency": 2},
        workers={"enabled": False},
    )
    api = await build_api(aiohttp_client, settings)
    c = api.client.app[CONTAINER]
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "10.00")
    assert (await api.pay(amount="1.00", payer_account=alice, payee_account=bob))[0] == 201
    async with aiohttp.ClientSession() as session:
        deliverer = OutboxDeliverer(
            c.uow, c.settings(), c.metrics(), lambda: session, wake=c.events_committed()
        )
        draining = asyncio.ensure_future(deliverer.drain(asyncio.Event()))
        await asyncio.wait_for(first_in.wait(), timeout=10)  # a hang guard
        assert (await api.pay(amount="1.00", payer_account=alice, payee_account=bob))[0] == 201
        drained = await asyncio.wait_for(draining, timeout=20)  # a hang guard
    assert overlapped == [True], "the second webhook left while the first was in flight"
    # a round each, then the claim that found nothing
    assert (drained.rounds, drained.attempted) == (3, 2)
    _, delivered = await api.get("/ops/notifications?status=delivered")
    assert len(delivered["data"]) == 2
