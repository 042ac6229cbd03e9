"""Settings of the SPDB bank-enterprise channel (`channels.spdb`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Where `python -m plugins.spdb.sandbox` listens by default: one process plays both services.
SANDBOX_PORT = 5777


class SpdbSettings(BaseModel):
    """Everything that differs between the sandbox and the bank's real services.

    The defaults point at the sandbox; production sets the URLs of the enterprise's signing
    server and front machine (both run inside the enterprise network), the customer number
    and the payer account the bank opened — a settings change, never a code change.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    front_machine_url: str = f"http://127.0.0.1:{SANDBOX_PORT}/front"
    signing_server_url: str = f"http://127.0.0.1:{SANDBOX_PORT}/signer"
    master_id: str = Field(default="2000000001", min_length=1, description="企业客户号 masterID")
    auth_master_id: str = Field(default="", description="指定授权客户号 authMasterID, if any")
    acct_no: str = Field(default="95200078800000001", min_length=1, description="payer account")
    acct_name: str = Field(default="沙箱测试企业", min_length=1, description="payer account name")
    acct_bank_no: str = Field(
        default="310290000013",
        pattern=r"^[0-9]{12}$",
        description="CNAPS number (联行号) of the payer account's branch: tells a payee's bank and city",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="limit on every HTTP call")
    query_backoff_seconds: list[float] = Field(
        default_factory=lambda: [10.0, 30.0, 60.0, 300.0, 900.0, 1800.0],
        min_length=1,
        description="waits before the 1st, 2nd, ... 8804 poll; the last repeats",
    )
    max_polls: int = Field(default=30, ge=1, description="8804 polls before escalating")

    @field_validator("front_machine_url", "signing_server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("query_backoff_seconds")
    @classmethod
    def _positive_waits(cls, value: list[float]) -> list[float]:
        if any(wait <= 0 for wait in value):
            raise ValueError("every wait must be greater than zero")
        return value

    def backoff_before_poll(self, poll: int) -> float:
        """Seconds to wait before 8804 poll number `poll` (1-based); the last wait repeats."""
        if poll < 1:
            raise ValueError("polls count from 1")
        return self.query_backoff_seconds[min(poll, len(self.query_backoff_seconds)) - 1]

    def should_escalate(self, polls_done: int) -> bool:
        """True once `max_polls` queries left the payment unresolved: hand it to an operator."""
        return polls_done >= self.max_polls
