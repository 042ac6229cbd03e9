"""The ledger's balance limit (core/ledger.py): what an amount can say, per currency, and a
transaction's net change to any account within it, whatever its legs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import BalanceLimitExceeded
from core.ledger import FlowKind, Posting, balance_limit, check_balanced, transfer, within_limit
from core.money import Money, parse_amount, to_minor

LIMIT = balance_limit("CNY")


def test_the_limit_is_the_largest_amount_in_minor_units_and_twice_it_fits_64_bits() -> None:
    assert to_minor(parse_amount("9999999999999999.99", "CNY"), "CNY") == LIMIT
    assert balance_limit("JPY") == to_minor(parse_amount("9999999999999999", "JPY"), "JPY")
    assert 2 * LIMIT < 2**63 - 1
    assert within_limit(-LIMIT, "CNY") and not within_limit(LIMIT + 1, "CNY")


@given(st.lists(st.integers(min_value=1, max_value=LIMIT), min_size=1, max_size=6))
def test_a_transaction_is_refused_exactly_when_one_accounts_net_change_passes_the_limit(
    amounts: list[int],
) -> None:
    """Legs from one payer to one payee: their sum is each side's net change."""
    legs: tuple[Posting, ...] = ()
    for minor in amounts:
        legs += transfer("acc_payer", "acc_payee", Money(minor, "CNY"), FlowKind.TRANSFER)
    if sum(amounts) <= LIMIT:
        check_balanced(legs)
    else:
        with pytest.raises(BalanceLimitExceeded):
            check_balanced(legs)
