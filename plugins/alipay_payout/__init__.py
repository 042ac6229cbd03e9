"""Alipay payout channel: outward payments through alipay.fund.trans.uni.transfer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.alipay_openapi.channel import alipay_channel
from plugins.alipay_openapi.channel import channel_settings as configured
from plugins.alipay_payout.adapter import AlipayPayoutAdapter
from plugins.alipay_payout.sandbox import PayoutSandbox
from plugins.alipay_payout.settings import AlipayPayoutSettings
from plugins.alipay_payout.simulator import SANDBOX_APP_ID
from plugins.sandbox_store.store import SandboxStore
from ports.channels import Channel, ChannelServices
from ports.hookspecs import hookimpl

CODE = "alipay_payout"
PAY_METHODS = frozenset({"alipay", "bank"})


def channel_settings(settings: Mapping[str, Mapping[str, Any]]) -> AlipayPayoutSettings | None:
    return configured(settings, CODE, AlipayPayoutSettings)


@hookimpl
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    config = channel_settings(settings)
    if config is None:
        return []  # the channel exists only where it is configured
    adapter = AlipayPayoutAdapter(config, config.openapi_settings())
    description = (
        "Alipay payouts (对外支付) to Alipay accounts and bank cards: "
        "fund.trans.uni.transfer, fund.trans.common.query, order.changed messages"
    )
    return [
        alipay_channel(
            CODE, adapter, config, pay_methods=PAY_METHODS, description=description, workflows_only=True
        )
    ]


@hookimpl
def channel_sandboxes(settings: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    config = channel_settings(settings)
    if config is None or not config.uses_sandbox:
        return []
    keys = config.sandbox_keys(SANDBOX_APP_ID)
    # the simulator's memory survives a restart of the gateway, as a real channel's would
    store = SandboxStore(config.sandbox_state_file)
    return [
        PayoutSandbox(
            keys,
            host="127.0.0.1",
            port=config.sandbox_port,
            default_notify_url=config.notify_url,
            store=store,
        )
    ]
