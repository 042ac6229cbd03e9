"""SPDB bank-enterprise channel (浦发银企直联): single payments (8801) and result queries (8804)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import Field, model_validator

from plugins.sandbox_store.store import SandboxStore
from plugins.spdb.adapter import SpdbAdapter
from plugins.spdb.sandbox import SpdbSandbox
from plugins.spdb.sandbox_scenarios import SandboxConfig
from plugins.spdb.settings import SANDBOX_PORT, SpdbSettings
from ports.channels import Channel, ChannelServices
from ports.hookspecs import hookimpl

CODE = "spdb"


class SpdbChannelSettings(SpdbSettings):
    """`channels.spdb`: the bank settings plus whether to run the simulator beside the gateway."""

    sandbox: bool = Field(default=True, description="start the front-machine simulator with the gateway")
    sandbox_port: int = Field(default=SANDBOX_PORT, ge=1, le=65535)
    sandbox_state_file: str = Field(default="data/spdb_sandbox.db", min_length=1, description="its memory")
    sandbox_answer_delay_seconds: float = Field(
        default=0.0, ge=0, description="a slow simulated bank: every 8801 answer comes this late"
    )

    @model_validator(mode="before")
    @classmethod
    def _urls_follow_the_sandbox_port(cls, values: Any) -> Any:
        """The front machine and signing server default to the simulator's port, wherever it is."""
        if not isinstance(values, dict) or "sandbox_port" not in values:
            return values
        port = values["sandbox_port"]
        return {
            "front_machine_url": f"http://127.0.0.1:{port}/front",
            "signing_server_url": f"http://127.0.0.1:{port}/signer",
            **values,
        }


def channel_settings(settings: Mapping[str, Mapping[str, Any]]) -> SpdbChannelSettings | None:
    if CODE not in settings:
        return None
    return SpdbChannelSettings.model_validate(dict(settings[CODE]))


class SandboxRunner:
    """The SPDB simulator (signing server + front machine) on 127.0.0.1, for the embedded default."""

    def __init__(
        self, port: int, store: SandboxStore | None = None, config: SandboxConfig | None = None
    ) -> None:
        self.port = port
        self.sandbox = SpdbSandbox(config, store=store)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.sandbox.create_app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@hookimpl
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    config = channel_settings(settings)
    if config is None:
        return []  # the bank channel exists only where it is configured
    adapter = SpdbAdapter(config)
    schedule = tuple(int(config.backoff_before_poll(n)) for n in range(1, config.max_polls + 1))
    return [
        Channel(
            code=CODE,
            pay_methods=frozenset({"bank"}),
            currencies=frozenset({"CNY"}),
            payment=adapter,
            query=adapter,
            description="SPDB bank-enterprise direct connect: 8801 single payment, 8804 result query",
            query_schedule_seconds=schedule,
            close=adapter.close,
            workflows_only=True,  # a workflow's payments only, never a caller's directly
            payer_accounts=frozenset({config.acct_no}),  # 8801 pays from acctNo, whatever is asked
        )
    ]


@hookimpl
def channel_sandboxes(settings: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    config = channel_settings(settings)
    if config is None or not config.sandbox:
        return []
    # the bank's memory survives a restart of the gateway, as the real bank's does
    slow = SandboxConfig(answer_delay_seconds=config.sandbox_answer_delay_seconds)
    return [SandboxRunner(config.sandbox_port, SandboxStore(config.sandbox_state_file), slow)]
