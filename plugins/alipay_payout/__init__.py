"""Alipay payout channel: outward payments through alipay.fund.trans.uni.transfer."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plugins.alipay_payout.adapter import AlipayPayoutAdapter
from plugins.alipay_payout.sandbox import PayoutSandbox, load_sandbox_keys
from plugins.alipay_payout.settings import AlipayPayoutSettings, ensure_sandbox_keys
from ports.channels import Channel, ChannelServices
from ports.hookspecs import hookimpl

CODE = "alipay_payout"
PAY_METHODS = frozenset({"alipay", "bank"})


def channel_settings(settings: Mapping[str, Mapping[str, Any]]) -> AlipayPayoutSettings | None:
    if CODE not in settings:
        return None
    return AlipayPayoutSettings.model_validate(dict(settings[CODE]))


@hookimpl
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    config = channel_settings(settings)
    if config is None:
        return []  # the channel exists only where it is configured
    adapter = AlipayPayoutAdapter(config, config.openapi_settings())
    return [
        Channel(
            code=CODE,
            pay_methods=PAY_METHODS,
            currencies=frozenset({"CNY"}),
            payment=adapter,
            query=adapter,
            notification=adapter,
            description="Alipay payouts (对外支付) to Alipay accounts and bank cards: "
            "fund.trans.uni.transfer, fund.trans.common.query, order.changed messages",
            query_schedule_seconds=tuple(config.query_schedule_seconds),
            close=adapter.close,
            workflows_only=True,  # a workflow's payments only, never a caller's directly
        )
    ]


@hookimpl
def channel_sandboxes(settings: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    config = channel_settings(settings)
    if config is None or not config.uses_sandbox:
        return []
    keys = load_sandbox_keys(ensure_sandbox_keys(Path(config.sandbox_keys_dir)))
    return [
        PayoutSandbox(keys, host="127.0.0.1", port=config.sandbox_port, default_notify_url=config.notify_url)
    ]
