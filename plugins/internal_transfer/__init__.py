"""Internal transfer channel: moves money between the platform's virtual accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.internal_transfer.adapter import InternalTransferAdapter
from plugins.internal_transfer.settings import InternalTransferSettings
from ports.channels import Channel, ChannelServices
from ports.hookspecs import hookimpl

CODE = "internal_transfer"


@hookimpl
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    config = InternalTransferSettings.model_validate(dict(settings.get(CODE, {})))
    adapter = InternalTransferAdapter(services.accounts)
    return [
        Channel(
            code=CODE,
            pay_methods=frozenset({"transfer"}),
            currencies=frozenset(config.currencies),
            payment=adapter,
            query=adapter,
            atomic=True,
            description="double-entry transfers between the platform's virtual accounts",
        )
    ]
