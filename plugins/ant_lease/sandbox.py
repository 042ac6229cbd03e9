"""Simulator of the Ant Lease APIs: the rent order component, withholding agreements and
deductions, the user's signing pages, and the asynchronous notifications (see README.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from plugins.alipay_openapi.sandbox import (
    GATEWAY_PATH,
    SANDBOX_GATEWAY,
    USER_ACTION_PARAM,
    PageRefused,
    SandboxHandler,
    SandboxKeys,
    SandboxPage,
    SandboxUpload,
    create_sandbox_app,
)
from plugins.alipay_openapi.sandbox_keys import (
    load_sandbox_keys,
    serve_until_stopped,
    standalone_keys_dir,
)
from plugins.alipay_openapi.sandbox_notify import NotifyDelivery, NotifyingSandbox
from plugins.alipay_openapi.sandbox_request import url_params
from plugins.ant_lease.client import (
    AGREEMENT_PAGE_SIGN,
    AGREEMENT_QUERY,
    AGREEMENT_UNSIGN,
    CONTRACT_SEAL,
    ECSIGN_APPLY,
    ORDER_CLOSE,
    ORDER_CREATE,
    ORDER_QUERY,
    PLAN_APPEND,
    TRADE_CANCEL,
    TRADE_PAY,
    TRADE_QUERY,
)
from plugins.ant_lease.settings import SANDBOX_APP_ID, SANDBOX_PORT
from plugins.ant_lease.simulator import memory
from plugins.ant_lease.simulator.agreements import WithholdingAgreements
from plugins.ant_lease.simulator.contracts import ContractSigning
from plugins.ant_lease.simulator.orders import OrderComponent
from plugins.ant_lease.simulator.records import CONTRACT_FILE_PATH, CONTRACT_PATH, USER_SIGN_PATH
from plugins.ant_lease.simulator.trades import Deductions
from plugins.sandbox_store.store import SandboxStore


class LeaseSimulator(OrderComponent, ContractSigning, WithholdingAgreements, Deductions):
    """In-memory state of the rent order component, agreements and trades; deterministic:
    no timers, every change is driven by a call, a page visit, or `deliver_notifications`."""

    # -- plumbing ----------------------------------------------------------------------------
    def handlers(self) -> dict[str, SandboxHandler]:
        return {
            ORDER_CREATE: self.order_create,
            ORDER_QUERY: self.order_query,
            ECSIGN_APPLY: self.ecsign_apply,
            PLAN_APPEND: self.plan_append,
            ORDER_CLOSE: self.order_close,
            AGREEMENT_QUERY: self.agreement_query,
            AGREEMENT_UNSIGN: self.agreement_unsign,
            TRADE_PAY: self.trade_pay,
            TRADE_QUERY: self.trade_query,
            TRADE_CANCEL: self.trade_cancel,
        }

    def pages(self) -> dict[str, SandboxPage]:
        return {AGREEMENT_PAGE_SIGN: self.agreement_page}

    def uploads(self) -> dict[str, SandboxUpload]:
        return {CONTRACT_SEAL: self.seal_sign}


SIMULATOR = web.AppKey("ant_lease_simulator", LeaseSimulator)


async def _contract_page(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR]
    page = simulator.contract_page(
        request.match_info["contract_no"],
        request.query.get("party", "lessee"),
        request.query.get(USER_ACTION_PARAM),
    )
    return web.json_response(page, status=400 if "error" in page else 200)


async def _contract_file(request: web.Request) -> web.Response:
    """The signed contract's document (what order.query's `file_url` points to)."""
    content = request.app[SIMULATOR].contract_file(request.match_info["contract_no"])
    if content is None:
        return web.json_response({"error": "CONTRACT_FILE_NOT_EXIST"}, status=404)
    return web.Response(body=content, content_type="application/pdf")


async def open_signing_url(app: web.Application, url: str, decision: str | None) -> dict[str, Any]:
    """The user opens `url` (a contract or withholding signing URL of this sandbox) and clicks
    `decision` (confirm, refuse; None: only looks). What the page then shows; an `error` key
    when the sandbox would not show it."""
    path = urlsplit(url).path
    match = re.fullmatch(CONTRACT_PATH.format(contract_no="([^/]+)"), path)
    if match is not None:
        party = url_params(url).get("party", "lessee")
        return app[SIMULATOR].contract_page(match.group(1), party, decision)
    if path.endswith(GATEWAY_PATH):
        params = url_params(url)
        if decision is not None:
            params[USER_ACTION_PARAM] = decision
        try:
            return dict(await app[SANDBOX_GATEWAY].open_page(params))
        except PageRefused as refused:
            return {"error": refused.payload}
    return {"error": "not a signing URL of this sandbox"}


async def _user_signs(request: web.Request) -> web.Response:
    """Plays the user: opens `url` and clicks `decision` (confirm, the default, or refuse)."""
    shown = await open_signing_url(
        request.app, request.query.get("url", ""), request.query.get("decision", "confirm")
    )
    return web.json_response(shown, status=400 if "error" in shown else 200)


def create_lease_sandbox_app(simulator: LeaseSimulator) -> web.Application:
    """The OpenAPI sandbox gateway serving the lease methods, the signing pages, and the
    user simulation (`POST /_sandbox/users/sign?url=...&decision=confirm|refuse`)."""
    app = create_sandbox_app(
        simulator.keys, simulator.handlers(), pages=simulator.pages(), uploads=simulator.uploads()
    )
    app[SIMULATOR] = simulator
    app.router.add_get(CONTRACT_PATH.format(contract_no="{contract_no}"), _contract_page)
    app.router.add_get(CONTRACT_FILE_PATH.format(contract_no="{contract_no}"), _contract_file)
    app.router.add_post(USER_SIGN_PATH, _user_signs)
    return app


class LeaseSandbox(NotifyingSandbox):
    """A running lease simulator (`await start()` / `await stop()`) that delivers its
    notifications in the background as they arise."""

    name = "lease sandbox"

    def __init__(
        self,
        keys: SandboxKeys,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default_notify_url: str | None = None,
        store: SandboxStore | None = None,
    ) -> None:
        self.simulator = LeaseSimulator(keys, default_notify_url=default_notify_url)
        self.store = store
        app = create_lease_sandbox_app(self.simulator)
        if store is not None:  # the simulator's memory outlives it, as Alipay's does
            memory.restore(store, self.simulator)
            app.on_response_prepare.append(self._save_after_answer)
        super().__init__(app, self._deliver_and_save, host=host, port=port)

    async def _save_after_answer(self, _request: web.Request, _response: web.StreamResponse) -> None:
        if self.store is not None:
            memory.save(self.store, self.simulator)

    async def _deliver_and_save(
        self, session: aiohttp.ClientSession, *, timeout_seconds: float = 10.0
    ) -> list[NotifyDelivery]:
        deliveries = await self.simulator.deliver_notifications(session, timeout_seconds=timeout_seconds)
        if self.store is not None:
            memory.save(self.store, self.simulator)
        return deliveries

    async def start(self) -> str:
        self.simulator.on_notice = self.schedule_delivery
        url = await super().start()
        self.simulator.base_url = url
        return url

    async def stop(self) -> None:
        self.simulator.on_notice = None
        await super().stop()


async def _serve(args: argparse.Namespace) -> None:
    keys_dir = standalone_keys_dir(args.keys_dir, "ant-lease-sandbox-keys-")
    sandbox = LeaseSandbox(
        load_sandbox_keys(keys_dir, args.app_id),
        host=args.host,
        port=args.port,
        default_notify_url=args.notify_url,
    )
    await serve_until_stopped(sandbox, "Ant Lease", args.app_id, keys_dir)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m plugins.ant_lease.sandbox --port N`: run the simulator standalone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=SANDBOX_PORT)
    parser.add_argument("--app-id", default=SANDBOX_APP_ID)
    parser.add_argument("--keys-dir", type=Path, default=None, help="sandbox-only key files (default: fresh)")
    parser.add_argument("--notify-url", default=None, help="where notifications go when a request names none")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
