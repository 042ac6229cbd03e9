"""General pay terms in a payment's details form (the one-step payment's body, a trade's merged
terms): the ledger accounts they name, for the check that the calling app owns them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


def _charged(amount: object) -> bool:
    """A fee of 0 names no account the rules check (seed: `0 != fee_amount`, buyer fee `> 0`)."""
    try:
        return Decimal(str(amount)) != 0
    except InvalidOperation:
        return True  # not an amount: left to the amount check to refuse


def named_accounts(payer: str | None, payee: str | None, terms: Mapping[str, Any]) -> list[str]:
    """Every account the payment names, each once, in order (a zero fee's account left out)."""

    def named() -> Iterator[str | None]:
        yield payer
        yield payee
        for key in ("fee", "buyer_fee"):
            part = terms.get(key)
            if part and _charged(part.get("amount")):
                yield part.get("account")
        for key in ("upper_merchants", "profit_shares"):
            yield from (item.get("account") for item in terms.get(key) or ())

    return [account for account in dict.fromkeys(named()) if account]
