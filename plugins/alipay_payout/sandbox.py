"""Simulator of Alipay's payout API (uni.transfer, common.query, order.changed notifies)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from aiohttp import web

from plugins.alipay_openapi.sandbox import SandboxKeys, create_sandbox_app
from plugins.alipay_openapi.sandbox_keys import (
    ALIPAY_PRIVATE_KEY_FILE,
    ALIPAY_PUBLIC_KEY_FILE,
    APP_PRIVATE_KEY_FILE,
    APP_PUBLIC_KEY_FILE,
    serve_until_stopped,
    standalone_keys_dir,
    write_generated_keys,
)
from plugins.alipay_openapi.sandbox_keys import load_sandbox_keys as _load_keys
from plugins.alipay_openapi.sandbox_notify import NotifyingSandbox
from plugins.alipay_payout.simulator import (
    DEFAULT_BALANCE,
    DEFAULT_DEALING_QUERIES,
    SANDBOX_APP_ID,
    PayoutSimulator,
)
from plugins.sandbox_store.store import SandboxStore

SIMULATOR = web.AppKey("alipay_payout_simulator", PayoutSimulator)


def create_payout_sandbox_app(simulator: PayoutSimulator) -> web.Application:
    """The OpenAPI sandbox gateway serving the payout methods of `simulator`."""
    app = create_sandbox_app(simulator.keys, simulator.handlers())
    app[SIMULATOR] = simulator
    return app


class PayoutSandbox(NotifyingSandbox):
    """A running payout simulator (`await start()` / `await stop()`), delivering order.changed
    messages in the background as transfers become final."""

    name = "payout sandbox"

    def __init__(
        self,
        keys: SandboxKeys,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dealing_queries: int = DEFAULT_DEALING_QUERIES,
        balance: Decimal = DEFAULT_BALANCE,
        default_notify_url: str | None = None,
        store: SandboxStore | None = None,
    ) -> None:
        self.simulator = PayoutSimulator(
            keys,
            dealing_queries=dealing_queries,
            balance=balance,
            default_notify_url=default_notify_url,
            store=store,
        )
        super().__init__(
            create_payout_sandbox_app(self.simulator),
            self.simulator.deliver_notifications,
            host=host,
            port=port,
        )

    async def start(self) -> str:
        self.simulator.on_final = lambda transfer: self.schedule_delivery()
        return await super().start()

    async def stop(self) -> None:
        self.simulator.on_final = None
        await super().stop()


def load_sandbox_keys(keys_dir: Path, app_id: str = SANDBOX_APP_ID) -> SandboxKeys:
    """The fixed sandbox-only keys stored in `keys_dir` (cassettes/alipay_payout/keys)."""
    return _load_keys(keys_dir, app_id)


__all__ = [
    "ALIPAY_PRIVATE_KEY_FILE",
    "ALIPAY_PUBLIC_KEY_FILE",
    "APP_PRIVATE_KEY_FILE",
    "APP_PUBLIC_KEY_FILE",
    "SANDBOX_APP_ID",
    "PayoutSandbox",
    "PayoutSimulator",
    "create_payout_sandbox_app",
    "load_sandbox_keys",
    "write_generated_keys",
]


async def _serve(args: argparse.Namespace) -> None:
    keys_dir = standalone_keys_dir(args.keys_dir, "alipay-payout-sandbox-keys-")
    keys = load_sandbox_keys(keys_dir, args.app_id)
    sandbox = PayoutSandbox(
        keys,
        host=args.host,
        port=args.port,
        dealing_queries=args.dealing_queries,
        balance=Decimal(args.balance),
        default_notify_url=args.notify_url,
    )
    await serve_until_stopped(sandbox, "Alipay payout", args.app_id, keys_dir)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m plugins.alipay_payout.sandbox --port N`: run the simulator standalone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--app-id", default=SANDBOX_APP_ID)
    parser.add_argument(
        "--keys-dir",
        type=Path,
        default=None,
        help="folder with the sandbox-only key files (default: generate fresh)",
    )
    parser.add_argument("--dealing-queries", type=int, default=DEFAULT_DEALING_QUERIES)
    parser.add_argument("--balance", default=str(DEFAULT_BALANCE))
    parser.add_argument(
        "--notify-url", default=None, help="where order.changed messages go when a request names none"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
