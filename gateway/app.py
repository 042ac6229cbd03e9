"""The aiohttp application factory: middlewares, routes, and start-up/shut-down of resources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from dependency_injector import providers

from gateway.container import Container
from gateway.http.errors import error_middleware
from gateway.http.middlewares import auth_middleware, metrics_middleware, trace_middleware
from gateway.http.routes import setup_routes
from gateway.keys import CONTAINER
from gateway.migrate import upgrade_async
from gateway.workers.bills import BillWorker
from gateway.workers.lease import LeaseWorker
from gateway.workers.loop import run_periodically
from gateway.workers.nonce_purge import purge_nonces
from gateway.workers.outbox import OutboxDeliverer
from gateway.workers.query_poller import QueryPoller
from gateway.workers.settlement import SettlementWorker

log = logging.getLogger("paygate.app")


def create_app(container: Container | None = None) -> web.Application:
    container = container or Container()
    settings = container.settings()
    app = web.Application(
        middlewares=[trace_middleware, error_middleware, metrics_middleware, auth_middleware],
        client_max_size=settings.limits.max_body_bytes,
    )
    app[CONTAINER] = container
    # Fail fast on bad plugins or routing rules, before any port is bound.
    container.router()
    setup_routes(app)
    app.cleanup_ctx.append(_resources)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    container = app[CONTAINER]
    settings = container.settings()
    if settings.database.migrate_on_start:
        await upgrade_async(settings.database.url)
    for app_id, caller in settings.apps.items():
        if not caller.notify_url:
            log.info("app %s has no notify_url: no webhooks are queued for it", app_id)
    sandboxes: list[Any] = []
    if settings.sandbox:
        # the embedded default: each channel's simulator runs beside the gateway
        for found in container.plugin_manager().hook.channel_sandboxes(settings=settings.channels):
            sandboxes.extend(found or ())
        for sandbox in sandboxes:
            await sandbox.start()
    session = aiohttp.ClientSession()
    container.http_session.override(providers.Object(session))
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    flow = container.flow()
    tasks.append(
        asyncio.create_task(
            run_periodically("flow-flush", settings.workers.flow_flush_interval_seconds, flow.flush, stop)
        )
    )
    if settings.workers.enabled:
        interval = settings.workers.poll_interval_seconds
        poller = QueryPoller(container.engine(), container.payments(), settings.workers.batch_size)
        settler = SettlementWorker(container.uow, flow, settings.workers.batch_size)
        deliverer = OutboxDeliverer(
            container.uow, settings, container.metrics(), container.http_session, container.clock()
        )
        tasks += [
            asyncio.create_task(run_periodically("query-poller", interval, poller.run_once, stop)),
            asyncio.create_task(run_periodically("settlement", interval, settler.run_once, stop)),
            asyncio.create_task(
                run_periodically("outbox", settings.notify.poll_interval_seconds, deliverer.run_once, stop)
            ),
            asyncio.create_task(
                run_periodically("nonce-purge", 60.0, lambda: purge_nonces(container.nonces()), stop)
            ),
            asyncio.create_task(
                BillWorker(container.bills(), settings.workers.batch_size).run(interval, stop)
            ),
            asyncio.create_task(
                LeaseWorker(container.lease(), settings.lease.batch_size).run(interval, stop)
            ),
        ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await flow.flush()
        finally:
            await session.close()
            container.http_session.reset_override()
            for channel in container.channels().values():
                if channel.close is not None:
                    await channel.close()
            for sandbox in reversed(sandboxes):
                await sandbox.stop()
            await container.engine().dispose()
            writer = container.sqlite_writer()
            if writer is not None:
                await writer.aclose()
