"""The one strict base of every HTTP request body and the field types bodies are made of:
ids, decimal strings for money, the platform's currencies; no unknown fields."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from core.money import AMOUNT_PATTERN, CURRENCY_EXPONENTS
from core.spellings import TwoSpellings

Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")

_AMOUNT = re.compile(AMOUNT_PATTERN)
CURRENCIES = sorted(CURRENCY_EXPONENTS)


def _amount(value: Any) -> Any:
    if not isinstance(value, str) or _AMOUNT.fullmatch(value) is None:
        raise PydanticCustomError(
            "invalid_amount", 'give the amount as a decimal string such as "12.34" (no sign, no spaces)'
        )
    return value


def _currency(value: Any) -> Any:
    if not isinstance(value, str) or value not in CURRENCY_EXPONENTS:
        raise PydanticCustomError(
            "unsupported_currency", "use one of {allowed}", {"allowed": ", ".join(CURRENCIES)}
        )
    return value


Amount = Annotated[
    str,
    BeforeValidator(_amount),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12.34"]}),
]
"""A caller's amount: a non-negative decimal string; the currency's decimal places are checked with it."""

OptionalAmount = Annotated[
    str | None,
    BeforeValidator(_amount),
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12.34"]}),
]
"""An amount a caller may leave out (default None); given, it is an `Amount` (null is refused)."""

Currency = Annotated[str, BeforeValidator(_currency), WithJsonSchema({"type": "string", "enum": CURRENCIES})]
"""One of the currencies the platform accepts (ISO 4217 code)."""


class Body(TwoSpellings):
    """Strict, frozen, no unknown fields; a field with an alias (the seed's name) may be given by
    either name, never both (core.spellings)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
