"""Running an OpenAPI sandbox on a local port and delivering its signed async notifications."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from plugins.alipay_openapi.notify import ACKNOWLEDGEMENT, sign_notification
from plugins.alipay_openapi.sandbox import GATEWAY_PATH
from plugins.alipay_openapi.signing import (
    PrivateKey,
)


@dataclass(frozen=True, slots=True)
class NotifyDelivery:
    """One notification attempt; `acknowledged` only for the plain body `success`."""

    url: str
    status: int | None
    body: str
    acknowledged: bool
    error: str | None = None


async def send_notification(
    session: aiohttp.ClientSession,
    notify_url: str,
    fields: Mapping[str, str],
    private_key: PrivateKey,
    *,
    timeout_seconds: float = 10.0,
) -> NotifyDelivery:
    """POST `fields`, signed with `private_key`, as an Alipay async notification."""
    signed = sign_notification(fields, private_key)
    charset = signed.get("charset") or "utf-8"
    data = urlencode(signed, encoding=charset).encode("ascii")
    try:
        async with session.post(
            notify_url,
            data=data,
            headers={"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"},
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            body = await response.text()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        return NotifyDelivery(notify_url, None, "", False, error=str(exc) or type(exc).__name__)
    acknowledged = status == 200 and body.strip() == ACKNOWLEDGEMENT
    return NotifyDelivery(notify_url, status, body, acknowledged)


Pending = TypeVar("Pending")


@dataclass(slots=True)
class DeliveryRound(Generic[Pending]):
    """What one round of notification deliveries did: every attempt, and which of the pending
    items were acknowledged and which stay pending (Alipay retries those)."""

    deliveries: list[NotifyDelivery] = field(default_factory=list)
    acknowledged: list[Pending] = field(default_factory=list)
    unacknowledged: list[Pending] = field(default_factory=list)


async def deliver_round(
    session: aiohttp.ClientSession,
    pending: Iterable[Pending],
    message: Callable[[Pending], tuple[str | None, Mapping[str, str]]],
    private_key: PrivateKey,
    *,
    timeout_seconds: float = 10.0,
) -> DeliveryRound[Pending]:
    """Send each pending item's notification (`message` gives its URL and fields); an item
    with no URL is dropped, as with an app that configured no gateway."""
    done: DeliveryRound[Pending] = DeliveryRound()
    for item in pending:
        url, fields = message(item)
        if not url:
            continue
        delivery = await send_notification(session, url, fields, private_key, timeout_seconds=timeout_seconds)
        done.deliveries.append(delivery)
        (done.acknowledged if delivery.acknowledged else done.unacknowledged).append(item)
    return done


class SandboxRunner:
    """Runs a sandbox app on a local port: `await start()` returns its base URL."""

    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self) -> str:
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1] if runner.addresses else self._port
        self.url = f"http://{self._host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


Deliver = Callable[[aiohttp.ClientSession], Coroutine[Any, Any, list[NotifyDelivery]]]


class NotifyingSandbox:
    """A simulator app on a local port (`await start()` returns its base URL) that delivers its
    notifications with `deliver` in the background whenever `schedule_delivery()` is called
    (the simulator calls it as notifications arise), and on `POST /_sandbox/notifications/deliver`,
    which answers once nothing is in flight."""

    name = "sandbox"

    def __init__(
        self, app: web.Application, deliver: Deliver, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = app
        self._deliver = deliver
        app.router.add_post("/_sandbox/notifications/deliver", self._deliver_now)
        self._runner = SandboxRunner(app, host=host, port=port)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[list[NotifyDelivery]]] = set()
        self.url: str | None = None

    @property
    def gateway_url(self) -> str:
        if self.url is None:
            raise RuntimeError(f"the {self.name} is not started")
        return self.url + GATEWAY_PATH

    async def start(self) -> str:
        self._session = aiohttp.ClientSession()
        self.url = await self._runner.start()
        return self.url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._runner.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def schedule_delivery(self) -> None:
        if self._session is None:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(self._session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_now(self, request: web.Request) -> web.Response:
        if self._session is None:
            raise web.HTTPServiceUnavailable()
        # Let background deliveries finish first, so the answer means "nothing in flight".
        in_flight = [task for task in self._tasks if task is not asyncio.current_task()]
        done = await asyncio.gather(*in_flight, return_exceptions=True)
        deliveries = [d for batch in done if isinstance(batch, list) for d in batch]
        deliveries += await self._deliver(self._session)
        return web.json_response(
            [{"url": d.url, "status": d.status, "acknowledged": d.acknowledged} for d in deliveries]
        )
