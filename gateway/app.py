"""The aiohttp application factory: middlewares, routes, and start-up/shut-down of resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from dependency_injector import providers

from gateway.console.app import setup_console
from gateway.container import Container
from gateway.http.audit import audit_middleware
from gateway.http.errors import error_middleware
from gateway.http.flow_durability import flow_durability_middleware
from gateway.http.middlewares import (
    address_middleware,
    auth_middleware,
    metrics_middleware,
    trace_middleware,
)
from gateway.http.routes import setup_routes
from gateway.keys import CONTAINER
from gateway.migrate import prepare_schema
from gateway.settings import PaygateSettings
from gateway.simulators import running
from gateway.workers.startup import start_workers

log = logging.getLogger("paygate.app")


def create_app(container: Container | None = None) -> web.Application:
    container = container or Container()
    settings = container.settings()
    app = web.Application(
        middlewares=[
            trace_middleware,
            flow_durability_middleware,
            error_middleware,
            metrics_middleware,
            address_middleware,
            auth_middleware,
            audit_middleware,
        ],
        client_max_size=settings.limits.max_body_bytes,
    )
    app[CONTAINER] = container
    # Fail fast on bad plugins or routing rules, before any port is bound.
    container.router()
    setup_routes(app)
    setup_console(app, container)  # HTML pages, outside the JSON route table
    app.cleanup_ctx.append(_resources)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """Start-up, then (after the yield) shut-down in the reverse order."""
    container = app[CONTAINER]
    settings = container.settings()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(_close_storage, container)
        await prepare_schema(container.engine(), settings.database)
        await _demo_operators(container)
        _name_apps_without_webhooks(settings)
        await stack.enter_async_context(_sandboxes(container))
        stack.push_async_callback(_close_channels, container)
        await stack.enter_async_context(_http_session(container))
        await stack.enter_async_context(_workers(container))
        yield


async def _demo_operators(container: Container) -> None:
    if container.settings().ops.demo_operators:
        created = await container.operators().ensure_demo()
        if created:
            log.warning("demo operators created (local trials only): %s", ", ".join(created))


def _name_apps_without_webhooks(settings: PaygateSettings) -> None:
    for app_id, caller in settings.apps.items():
        if not caller.notify_url:
            log.info("app %s has no notify_url: no webhooks are queued for it", app_id)


@contextlib.asynccontextmanager
async def _sandboxes(container: Container) -> AsyncIterator[None]:
    """The embedded default: each channel's simulator runs beside the gateway."""
    settings = container.settings()
    found: list[Any] = []
    if settings.sandbox:
        for sandboxes in container.plugin_manager().hook.channel_sandboxes(settings=settings.channels):
            found.extend(sandboxes or ())
    async with running(found):
        yield


@contextlib.asynccontextmanager
async def _http_session(container: Container) -> AsyncIterator[None]:
    """The one client session of the webhook deliverer, offered through the container."""
    session = aiohttp.ClientSession()
    container.http_session.override(providers.Object(session))
    try:
        yield
    finally:
        await session.close()
        container.http_session.reset_override()


@contextlib.asynccontextmanager
async def _workers(container: Container) -> AsyncIterator[None]:
    """The background workers; at shut-down they stop and the flow log is flushed a last time."""
    stop = asyncio.Event()
    tasks = start_workers(container, stop)
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await container.flow().flush()


async def _close_channels(container: Container) -> None:
    for channel in container.channels().values():
        if channel.close is not None:
            await channel.close()


async def _close_storage(container: Container) -> None:
    await container.engine().dispose()
    writer = container.sqlite_writer()
    if writer is not None:
        await writer.aclose()
