"""The lease simulator's state and plumbing: sequence numbers, clock, pending notifications,
and looking orders and agreements up."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from plugins.alipay_openapi.sandbox import SandboxKeys
from plugins.alipay_openapi.sandbox_notify import NotifyDelivery, deliver_round
from plugins.alipay_openapi.times import beijing_now, format_alipay_time
from plugins.ant_lease.settings import SANDBOX_PORT
from plugins.ant_lease.simulator.records import (
    DEFAULT_TEMPLATES,
    Notice,
    SimAgreement,
    SimOrder,
    SimTrade,
)


class SimulatorBase:
    """In-memory state of the rent order component, agreements and trades; deterministic:
    no timers, every change is driven by a call, a page visit, or `deliver_notifications`."""

    def __init__(
        self,
        keys: SandboxKeys,
        *,
        base_url: str = f"http://127.0.0.1:{SANDBOX_PORT}",
        templates: Mapping[str, Sequence[str]] = DEFAULT_TEMPLATES,
        default_notify_url: str | None = None,
        clock: Callable[[], datetime] = beijing_now,
    ) -> None:
        self.keys = keys
        self.base_url = base_url
        self.templates = {k: tuple(v) for k, v in templates.items()}
        self.default_notify_url = default_notify_url
        self._clock = clock
        self._sequence = 0
        self.orders: dict[str, SimOrder] = {}
        self.agreements: dict[str, SimAgreement] = {}  # by external_agreement_no
        self.trades: dict[str, SimTrade] = {}
        self.failed_once: set[tuple[str, str]] = set()
        # out_trade_nos cancelled before any trade.pay arrived: a late trade.pay is refused
        self.cancelled_unknown: set[str] = set()
        self.pending: list[Notice] = []
        self.on_notice: Callable[[], None] | None = None

    def _next(self, kind: str) -> str:
        self._sequence += 1
        return f"{self._clock():%Y%m%d}{kind}{self._sequence:012d}"

    def _now(self) -> str:
        return format_alipay_time(self._clock())

    def _notify(self, url: str | None, fields: dict[str, str]) -> None:
        target = url or self.default_notify_url
        if not target:
            return  # nowhere to send it, as with an app that configured no gateway
        self.pending.append(Notice(target, fields))
        if self.on_notice is not None:
            self.on_notice()

    def _base_fields(self, app_id: str) -> dict[str, str]:
        self._sequence += 1
        return {
            "app_id": app_id,
            "charset": "utf-8",
            "notify_id": f"sandbox{self._sequence:016d}",
            "notify_time": self._now(),
        }

    async def deliver_notifications(
        self, session: aiohttp.ClientSession, *, timeout_seconds: float = 10.0
    ) -> list[NotifyDelivery]:
        """Send every pending notification; those not acknowledged with `success` stay
        pending (Alipay retries them)."""
        pending, self.pending = self.pending, []
        done = await deliver_round(
            session,
            pending,
            lambda notice: (notice.url, notice.fields),
            self.keys.alipay_private_key,
            timeout_seconds=timeout_seconds,
        )
        for notice in done.acknowledged:
            notice.delivered = True
        self.pending.extend(done.unacknowledged)
        return done.deliveries

    def find_order(self, biz: Mapping[str, Any]) -> SimOrder | None:
        if biz.get("order_id"):
            return next((o for o in self.orders.values() if o.order_id == biz["order_id"]), None)
        return self.orders.get(str(biz.get("out_order_id")))

    def find_agreement(self, biz: Mapping[str, Any]) -> SimAgreement | None:
        if biz.get("agreement_no"):
            return next((a for a in self.agreements.values() if a.agreement_no == biz["agreement_no"]), None)
        agreement = self.agreements.get(str(biz.get("external_agreement_no")))
        if agreement is None:
            return None
        same = (agreement.personal_product_code, agreement.sign_scene) == (
            biz.get("personal_product_code"),
            biz.get("sign_scene"),
        )
        return agreement if same else None
