"""Money as Decimal in a known currency, parsed strictly from decimal strings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.errors import InvalidArgument

# ISO 4217 currencies the platform accepts, with their number of minor-unit digits.
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "HKD": 2,
    "GBP": 2,
    "JPY": 0,
}

# a caller's amount: digits without leading zeros, an optional fraction; the whole string
# (matched with fullmatch: `$` alone would let a trailing newline through)
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,15})(\.[0-9]+)?$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)


def check_currency(currency: object, *, field: str = "currency") -> str:
    if not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS:
        raise InvalidArgument(
            f"unsupported currency {currency!r}; use one of {', '.join(sorted(CURRENCY_EXPONENTS))}",
            field=field,
            code="UNSUPPORTED_CURRENCY",
        )
    return currency


def parse_amount(raw: object, currency: str, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """Parse a caller's decimal string (e.g. "12.34") into a Decimal with the currency's scale.

    Floats and numbers are refused: JSON numbers lose precision on the way in.
    """
    exponent = CURRENCY_EXPONENTS[check_currency(currency)]
    if not isinstance(raw, str):
        raise InvalidArgument(
            f'{field} must be a decimal string such as "12.34"', field=field, code="INVALID_AMOUNT"
        )
    match = _AMOUNT_RE.fullmatch(raw)
    if match is None:
        raise InvalidArgument(
            f'{field} {raw!r} is not a non-negative decimal string such as "12.34"',
            field=field,
            code="INVALID_AMOUNT",
        )
    fraction = match.group(2)
    if fraction is not None and len(fraction) - 1 > exponent:
        raise InvalidArgument(
            f"{field} {raw!r} has more than {exponent} decimal places for {currency}",
            field=field,
            code="INVALID_AMOUNT",
        )
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise InvalidArgument(f"{field} {raw!r} is not a number", field=field) from exc
    if value == 0 and not allow_zero:
        raise InvalidArgument(f"{field} must be greater than zero", field=field, code="INVALID_AMOUNT")
    return quantize(value, currency)


def quantize(value: Decimal, currency: str) -> Decimal:
    exponent = CURRENCY_EXPONENTS[currency]
    return value.quantize(Decimal(1).scaleb(-exponent))


def to_minor(value: Decimal, currency: str) -> int:
    """Decimal major units -> integer minor units (what storage keeps)."""
    exponent = CURRENCY_EXPONENTS[currency]
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise InvalidArgument(f"amount {value} is finer than {currency} allows", code="INVALID_AMOUNT")
    return int(minor)


def from_minor(minor: int, currency: str) -> Decimal:
    return quantize(Decimal(minor).scaleb(-CURRENCY_EXPONENTS[currency]), currency)


def format_amount(value: Decimal, currency: str) -> str:
    return str(quantize(value, currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of one currency; arithmetic refuses mixed currencies."""

    minor: int
    currency: str

    @classmethod
    def parse(cls, raw: object, currency: str, *, field: str = "amount", allow_zero: bool = False) -> Money:
        return cls(
            to_minor(parse_amount(raw, currency, field=field, allow_zero=allow_zero), currency),
            currency,
        )

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidArgument(
                f"cannot mix {self.currency} and {other.currency}", code="CURRENCY_MISMATCH"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    @property
    def decimal(self) -> Decimal:
        return from_minor(self.minor, self.currency)

    def __str__(self) -> str:
        return format_amount(self.decimal, self.currency)


def check_amounts(amounts: Iterable[tuple[str, Money, bool]], currency: str, *, of: str) -> None:
    """Every (field, amount, zero allowed) in `currency` (else CURRENCY_MISMATCH), then of the
    right sign (else INVALID_AMOUNT); `of` names what the amounts belong to, for the message."""
    amounts = list(amounts)
    for field, money, _ in amounts:
        if money.currency != currency:
            raise InvalidArgument(
                f"{field} is in {money.currency}; give every amount in the {of}'s {currency}",
                field=field,
                code="CURRENCY_MISMATCH",
            )
    for field, money, zero_allowed in amounts:
        if money.minor < 0 or (money.minor == 0 and not zero_allowed):
            bound = "zero or more" if zero_allowed else "greater than zero"
            raise InvalidArgument(
                f"{field} is {money}; it must be {bound}", field=field, code="INVALID_AMOUNT"
            )
