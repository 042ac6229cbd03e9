"""The one strict base of every HTTP request body: decimal strings for money, no unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
