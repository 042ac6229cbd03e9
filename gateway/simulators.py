"""`paygate simulators serve`: the configured channels' simulators in a process of their own.

The embedded default starts each channel's simulator inside `paygate serve`; a `kill -9` of the
gateway then kills its channels too. Run apart, the simulators outlive the gateway as a real
channel does: start them with the same settings (their ports, keys folders and state files),
and the gateway with `sandbox = false` (`PAYGATE_SANDBOX=false`), so it calls them instead of
starting its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from gateway.cannot_start import CannotStart
from gateway.logs import configure_logging


def configured_simulators() -> list[Any]:
    """Every simulator the installed channel plugins offer for the configured channels (whatever
    the top-level `sandbox` says: that one decides only whether `paygate serve` embeds them)."""
    from gateway.container import Container

    container = Container()
    settings = container.settings()
    configure_logging(settings.log.level, settings.log.json_logs)
    found: list[Any] = []
    for sandboxes in container.plugin_manager().hook.channel_sandboxes(settings=settings.channels):
        found.extend(sandboxes or ())
    return found


SHARE_THEM = (
    "another process serves it already (a `paygate serve` with the sandbox channels, or `paygate "
    "simulators serve`). Gateways on one machine share one set of simulators: run `paygate "
    "simulators serve` once and each gateway with PAYGATE_SANDBOX=false (docs/OPERATIONS.md)"
)


@contextlib.asynccontextmanager
async def running(simulators: Sequence[Any]) -> AsyncIterator[None]:
    """Every simulator started, then (after the yield) stopped in reverse. One that cannot
    listen (its port taken) stops those started and raises CannotStart saying what to do."""
    started: list[Any] = []
    try:
        for simulator in simulators:
            try:
                await simulator.start()
            except OSError as exc:
                reason = exc.strerror or exc
                raise CannotStart(f"a channel simulator cannot start: {reason}; {SHARE_THEM}") from exc
            started.append(simulator)
        yield
    finally:
        for simulator in reversed(started):
            await simulator.stop()


async def serve_simulators(simulators: Sequence[Any], stop: asyncio.Event) -> None:
    """Start every simulator, say so once they listen, and stop them (in reverse) on `stop`."""
    async with running(simulators):
        names = ", ".join(type(s).__name__ for s in simulators)
        print(f"paygate simulators serving: {names}", flush=True)
        await stop.wait()


async def _until_signalled(simulators: Sequence[Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve_simulators(simulators, stop)


def cmd_simulators_serve(args: argparse.Namespace) -> int:
    simulators = configured_simulators()
    if not simulators:
        print("paygate: no configured channel runs a simulator (each has its real settings)", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_until_signalled(simulators))
    return 0
