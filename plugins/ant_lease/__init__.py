"""Ant Lease channel (蚂蚁租赁): lease orders, contract pre-signing, withholding agreements and
rent collected by withholding, over Alipay's OpenAPI."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plugins.alipay_openapi.sandbox_keys import ensure_sandbox_keys, load_sandbox_keys
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.sandbox import LeaseSandbox
from plugins.ant_lease.settings import SANDBOX_APP_ID, AntLeaseSettings
from ports.channels import Channel, ChannelServices
from ports.hookspecs import hookimpl
from ports.lease import LEASE_EXTENSION

CODE = "ant_lease"


def channel_settings(settings: Mapping[str, Mapping[str, Any]]) -> AntLeaseSettings | None:
    if CODE not in settings:
        return None
    return AntLeaseSettings.model_validate(dict(settings[CODE]))


@hookimpl
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    config = channel_settings(settings)
    if config is None:
        return []  # the channel exists only where it is configured
    adapter = AntLeaseAdapter(config, config.openapi_settings())
    return [
        Channel(
            code=CODE,
            pay_methods=frozenset(config.pay_methods),
            currencies=frozenset({"CNY"}),
            payment=adapter,
            query=adapter,
            notification=adapter,
            signing=adapter,
            description="Ant Lease (蚂蚁租赁): rent orders, contract pre-signing, withholding "
            "agreements (user.agreement.*), rent withheld with trade.pay GENERAL_WITHHOLDING",
            query_schedule_seconds=tuple(config.query_schedule_seconds),
            close=adapter.close,
            workflows_only=True,  # a workflow's payments only, never a caller's directly
            extensions={LEASE_EXTENSION: adapter},
        )
    ]


@hookimpl
def channel_sandboxes(settings: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    config = channel_settings(settings)
    if config is None or not config.uses_sandbox:
        return []
    keys = load_sandbox_keys(ensure_sandbox_keys(Path(config.sandbox_keys_dir)), SANDBOX_APP_ID)
    return [
        LeaseSandbox(keys, host="127.0.0.1", port=config.sandbox_port, default_notify_url=config.notify_url)
    ]
