"""What every Alipay channel plugin shares: its settings table's common part, looking the table
up, the sandbox keys of the embedded simulator, and the adapter's client plumbing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_openapi.sandbox import SandboxKeys
from plugins.alipay_openapi.sandbox_keys import ensure_sandbox_keys, load_sandbox_keys
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from ports.channels import Channel, NotificationPort, PaymentPort, QueryPort, SigningPort

DEFAULT_QUERY_SCHEDULE = (5, 30, 60, 300, 900, 1800, 3600)


class AlipayChannelSettings(BaseModel):
    """The part of an Alipay channel's settings that decides between the simulator and the real
    gateway. Each channel sets its own defaults for the sandbox port, keys folder and notify URL."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    openapi: AlipayOpenApiSettings | None = Field(
        default=None, description="the Alipay OpenAPI application to call; none: the simulator"
    )
    sandbox: bool = Field(
        default=True, description="run the simulator beside the gateway when `openapi` is not set"
    )
    sandbox_port: int = Field(ge=1, le=65535)
    sandbox_keys_dir: str = Field(min_length=1, description="sandbox-only key files")
    notify_url: str
    query_schedule_seconds: list[int] = Field(
        default_factory=lambda: list(DEFAULT_QUERY_SCHEDULE), min_length=1
    )

    @model_validator(mode="after")
    def _has_a_gateway(self) -> AlipayChannelSettings:
        if self.openapi is None and not self.sandbox:
            raise ValueError("set `openapi` (the real Alipay app) or leave `sandbox` on")
        if any(s < 0 for s in self.query_schedule_seconds):
            raise ValueError("query_schedule_seconds must not be negative")
        return self

    @property
    def uses_sandbox(self) -> bool:
        return self.openapi is None

    def sandbox_keys(self, app_id: str) -> SandboxKeys:
        """The embedded simulator's keys, generated into `sandbox_keys_dir` on first start."""
        return load_sandbox_keys(ensure_sandbox_keys(Path(self.sandbox_keys_dir)), app_id)


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def channel_settings(
    settings: Mapping[str, Mapping[str, Any]], code: str, model: type[SettingsT]
) -> SettingsT | None:
    """The channel's validated settings table, or None where the channel is not configured."""
    if code not in settings:
        return None
    return model.model_validate(dict(settings[code]))


class OpenApiAdapter:
    """The plumbing of an adapter over one Alipay app: its client and Alipay's public key."""

    def __init__(self, openapi: AlipayOpenApiSettings) -> None:
        self.openapi = openapi
        self._public_key = openapi.public_key()
        # the client opens its HTTP session on first use and closes it with close()
        self._client = AlipayClient(openapi)

    def client(self) -> AlipayClient:
        return self._client

    async def close(self) -> None:
        await self._client.close()


class AlipayPorts(PaymentPort, QueryPort, NotificationPort, Protocol):
    """An Alipay channel's adapter: it pays, queries and verifies callbacks, and closes."""

    async def close(self) -> None: ...


def alipay_channel(
    code: str,
    adapter: AlipayPorts,
    config: AlipayChannelSettings,
    *,
    pay_methods: Iterable[str],
    description: str,
    signing: SigningPort | None = None,
    extensions: Mapping[str, object] | None = None,
    workflows_only: bool = False,
) -> Channel:
    """The channel an Alipay plugin registers: one adapter behind the payment, query and
    notification ports (and signing where it signs), in yuan, on its query schedule;
    `workflows_only`: only a workflow's payments, never a caller's directly."""
    return Channel(
        code=code,
        pay_methods=frozenset(pay_methods),
        currencies=frozenset({"CNY"}),
        payment=adapter,
        query=adapter,
        notification=adapter,
        signing=signing,
        description=description,
        query_schedule_seconds=tuple(config.query_schedule_seconds),
        close=adapter.close,
        extensions=dict(extensions or {}),
        workflows_only=workflows_only,
    )
