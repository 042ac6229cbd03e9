"""Settings of the Alipay payout channel (`channels.alipay_payout`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from plugins.alipay_openapi.channel import AlipayChannelSettings
from plugins.alipay_openapi.sandbox import GATEWAY_PATH
from plugins.alipay_openapi.sandbox_keys import sandbox_openapi_settings
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_payout.sandbox import SANDBOX_APP_ID

# Where the embedded simulator listens (the standalone `python -m plugins.alipay_payout.sandbox`
# uses the same default).
SANDBOX_PORT = 8701
# Relative to the gateway's working directory, like the embedded SQLite file; `/data/` is
# ignored by git. Holds generated, sandbox-only keys — never real ones.
DEFAULT_SANDBOX_KEYS_DIR = "data/alipay_payout_sandbox_keys"


class AlipayPayoutSettings(AlipayChannelSettings):
    """Everything that differs between the simulator and the real Alipay gateway.

    With no `openapi` table the channel pays into the simulator started beside the gateway
    (the embedded default): its sandbox-only keys are read from `sandbox_keys_dir`, generated
    there on first start. Real payouts set `openapi` (gateway URL, app id, the app's private
    key, Alipay's public key, notify URL) — a settings change, never a code change.
    """

    sandbox_port: int = Field(default=SANDBOX_PORT, ge=1, le=65535)
    sandbox_keys_dir: str = Field(
        default=DEFAULT_SANDBOX_KEYS_DIR, min_length=1, description="sandbox-only key files"
    )
    sandbox_state_file: str = Field(
        default="data/alipay_payout_sandbox.db", min_length=1, description="the simulator's memory"
    )
    notify_url: str = Field(
        default="http://127.0.0.1:8080/callbacks/alipay_payout",
        description="where the simulator posts alipay.fund.trans.order.changed messages",
    )
    order_title: str = Field(default="对外支付", min_length=1, max_length=64)

    @property
    def sandbox_gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}{GATEWAY_PATH}"

    def openapi_settings(self) -> AlipayOpenApiSettings:
        """The OpenAPI application the adapter calls: `openapi`, or the simulator's."""
        if self.openapi is not None:
            return self.openapi
        return sandbox_openapi_settings(
            self.sandbox_gateway_url, SANDBOX_APP_ID, Path(self.sandbox_keys_dir), self.notify_url
        )
