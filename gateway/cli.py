"""The `paygate` command: serve, migrate, plugins, routes check, keys rotate, operators, simulators."""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import gc
import json
import sys
from typing import IO, TYPE_CHECKING

from aiohttp import web
from sqlalchemy.engine import make_url

from core.payments.route_check import report as route_report
from core.payments.routing import RoutingConfigError
from gateway.cannot_start import CannotStart, cannot_listen, check_port_free
from gateway.logs import configure_logging
from gateway.operators_cli import add_operator_commands
from gateway.plugins import PluginError, describe_channels
from gateway.settings import SettingsError
from gateway.simulators import cmd_simulators_serve
from gateway.storage.card_vault import CardVaultError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.container import Container

PORT_TAKEN = "another process listens there: choose another port (--port or PAYGATE_SERVER__PORT)"


def _container() -> Container:
    from gateway.container import Container

    return Container()


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.app import create_app

    container = _container()
    settings = container.settings()
    configure_logging(settings.log.level, settings.log.json_logs)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    check_port_free(host, port, "the gateway", PORT_TAKEN)  # before anything starts
    sqlite_lock = _one_process_per_sqlite_file(settings.database.url)
    if sqlite_lock is False:
        return 2
    app = create_app(container)
    serving = f"paygate serving on http://{host}:{port} (database {settings.database.url.split('@')[-1]})"
    _tune_garbage_collector()
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            # said once the port is bound: start-up (the schema check included) went well
            print=lambda _aiohttp_banner: print(serving, flush=True),
            access_log=None,
            loop=new_event_loop(settings.server.event_loop),
        )
    except OSError as exc:  # the port, taken in the instant since it was checked
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        raise cannot_listen("the gateway", host, port, exc, PORT_TAKEN) from exc
    return 0


def _tune_garbage_collector() -> None:
    """What start-up made (modules, routes, settings: tens of thousands of objects that live as
    long as the process) is moved out of the collector's generations, so full collections no
    longer walk it; and the youngest generation is collected every 10,000 new container objects
    instead of 700. A request makes a few thousand short-lived objects, nearly all freed by
    reference counting: at 700 the collector ran on almost every request, for nothing."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(10_000, middle, old)


def _one_process_per_sqlite_file(url: str) -> IO[bytes] | bool:
    """SQLite serves one gateway process per file (its workers claim nothing across processes):
    a second `paygate serve` on the same file is refused (False). The lock, an open file, lasts
    as long as this process; True where there is nothing to lock (PostgreSQL, in-memory)."""
    path = make_url(url).database if url.startswith("sqlite") else None
    if not path or path == ":memory:":
        return True
    try:
        lock = open(f"{path}-serve.lock", "wb")  # noqa: SIM115 - held open until the process ends
    except OSError as exc:
        raise CannotStart(
            f"cannot open the database file {path}: {exc.strerror or exc}; "
            "its folder must exist and be writable"
        ) from exc
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        print(
            f"paygate: another `paygate serve` is using {path}: SQLite serves one gateway process"
            " per file; for several processes use PostgreSQL (docs/OPERATIONS.md)",
            file=sys.stderr,
        )
        return False
    return lock


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """uvloop when asked for, or on `auto` when it is installed; asyncio's own loop otherwise."""
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise SystemExit("server.event_loop is uvloop, but uvloop is not installed") from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.migrate import check_migratable, current_revision, migrated, upgrade_or_refuse

    container = _container()
    engine = container.engine()  # installs the card vault that encrypts stored numbers as they migrate
    url = container.settings().database.url

    async def revision(read: Callable[[AsyncEngine], Awaitable[str | None]]) -> str | None:
        try:
            return await read(engine)
        finally:
            await engine.dispose()  # Alembic connects on its own, in between

    # what stops it is said in one line, not in a traceback
    before = asyncio.run(revision(lambda e: check_migratable(e, url)))
    upgrade_or_refuse(url, args.revision)
    print(migrated(before, asyncio.run(revision(current_revision)), args.revision))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from gateway.migrate import check_reachable
    from gateway.storage import card_vault
    from gateway.storage.card_rotation import rotate_card_keys

    container = _container()
    engine = container.engine()  # installs the vault of security.card_keys

    async def rotate() -> int:
        try:
            await check_reachable(engine, container.settings().database.url)
            return await rotate_card_keys(engine, card_vault.current())
        finally:
            await engine.dispose()

    rotated = asyncio.run(rotate())
    print(f"{rotated} stored numbers re-encrypted under card key {card_vault.current().active_key_id!r}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    channels = _container().channels()
    print(json.dumps(describe_channels(channels), indent=2))
    return 0


def cmd_routes_check(args: argparse.Namespace) -> int:
    """Every rule with its conditions; a rule an earlier one shadows is an error (exit 1)."""
    router = _container().router()
    shadowed = 0
    for entry in route_report(router):
        rule = entry.rule
        status = "SHADOWED" if entry.shadowed_by else "ok"
        print(
            f"{status:<8} #{entry.index + 1} {rule.label(entry.index)} -> {rule.channel}: {entry.conditions}"
        )
        if entry.shadowed_by:
            shadowed += 1
            print(f"         never matches: {entry.shadowed_by} takes every request it could match")
        elif entry.taken_first_by:
            print(
                f"         reached only by requests naming channel {rule.channel!r}: "
                f"{entry.taken_first_by} takes the others first"
            )
    if shadowed:
        print(f"{shadowed} of {len(router.rules)} routing rules can never match")
        return 1
    print(f"{len(router.rules)} routing rules valid against {len(router.channels)} installed channels")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paygate", description="Unified payment channel gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the gateway (migrates the embedded SQLite default; elsewhere needs `migrate`)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)
    sub.add_parser("plugins", help="installed channels and their capabilities").set_defaults(func=cmd_plugins)
    routes = sub.add_parser("routes", help="routing rules")
    routes_sub = routes.add_subparsers(dest="routes_command", required=True)
    routes_sub.add_parser("check", help="check the rules against installed channels").set_defaults(
        func=cmd_routes_check
    )
    simulators = sub.add_parser("simulators", help="the channels' simulators, apart from the gateway")
    simulators_sub = simulators.add_subparsers(dest="simulators_command", required=True)
    simulators_sub.add_parser(
        "serve", help="run the configured channels' simulators until stopped (serve with sandbox = false)"
    ).set_defaults(func=cmd_simulators_serve)
    keys = sub.add_parser("keys", help="the keys of card and account numbers at rest")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser(
        "rotate", help="re-encrypt stored numbers under security.active_key_id (keep the old keys listed)"
    ).set_defaults(func=cmd_keys_rotate)
    add_operator_commands(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SettingsError, PluginError, RoutingConfigError, CardVaultError, CannotStart) as exc:
        print(f"paygate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
