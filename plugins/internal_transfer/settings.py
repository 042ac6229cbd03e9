"""Settings of the internal-transfer channel (`channels.internal_transfer`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.money import CURRENCY_EXPONENTS


class InternalTransferSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currencies: list[str] = Field(default_factory=lambda: sorted(CURRENCY_EXPONENTS))
    query_schedule_seconds: list[int] | None = None
