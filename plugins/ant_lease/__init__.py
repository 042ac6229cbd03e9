"""Ant Lease channel (蚂蚁租赁): lease orders, contract pre-signing, withholding agreements and
rent collected by withholding, over Alipay's OpenAPI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from plugins.alipay_openapi.channel import alipay_channel
from plugins.alipay_openapi.channel import channel_settings as configured
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.sandbox import LeaseSandbox
from plugins.ant_lease.settings import SANDBOX_APP_ID, AntLeaseSettings
from plugins.sandbox_store.store import SandboxStore
from ports.channels import Channel, ChannelServices
from ports.hookspecs import hookimpl
from ports.lease import LEASE_EXTENSION

CODE = "ant_lease"


def channel_settings(settings: Mapping[str, Mapping[str, Any]]) -> AntLeaseSettings | None:
    return configured(settings, CODE, AntLeaseSettings)


@hookimpl
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    config = channel_settings(settings)
    if config is None:
        return []  # the channel exists only where it is configured
    adapter = AntLeaseAdapter(config, config.openapi_settings())
    description = (
        "Ant Lease (蚂蚁租赁): rent orders, contract pre-signing, withholding "
        "agreements (user.agreement.*), rent withheld with trade.pay GENERAL_WITHHOLDING"
    )
    channel = alipay_channel(
        CODE,
        adapter,
        config,
        pay_methods=config.pay_methods,
        description=description,
        signing=adapter,
        extensions={LEASE_EXTENSION: adapter},
        workflows_only=True,  # rent is withheld for the lease workflow only
    )
    # a deduction left unknown is closed with alipay.trade.cancel before an operator fails it
    return [replace(channel, cancel=adapter)]


@hookimpl
def channel_sandboxes(settings: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    config = channel_settings(settings)
    if config is None or not config.uses_sandbox:
        return []
    keys = config.sandbox_keys(SANDBOX_APP_ID)
    # the simulator's memory survives a restart of the gateway, as Alipay's would
    store = SandboxStore(config.sandbox_state_file)
    return [
        LeaseSandbox(
            keys,
            host="127.0.0.1",
            port=config.sandbox_port,
            default_notify_url=config.notify_url,
            store=store,
        )
    ]
