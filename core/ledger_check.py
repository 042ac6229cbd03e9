"""The ledger check's rules: what a consistent double-entry ledger looks like.

1. the balances of all accounts of a currency sum to zero (money only moves between accounts;
   what came from outside is the external account's negative balance);
2. every ledger transaction balances, per currency;
3. every account's balance (per sub-account) equals the sum of its flows;
4. no account that does not allow an overdraft is below zero.

Storage finds the breaches of rules 2-4 and the per-currency sums (queries over all rows); this
module judges them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    """Rule 1's input: the sum of every balance (all sub-accounts) of one currency."""

    currency: str
    sum_of_balances_minor: int
    accounts: int


@dataclass(frozen=True, slots=True)
class LedgerFindings:
    """What storage found: per-currency sums and the ids breaking rules 2, 3 and 4."""

    currency_totals: Sequence[CurrencyTotal]
    transactions_checked: int
    unbalanced_transactions: Sequence[str]
    accounts_not_matching_flows: Sequence[str]
    accounts_below_zero: Sequence[str]


def currencies_not_summing_to_zero(findings: LedgerFindings) -> list[str]:
    return [t.currency for t in findings.currency_totals if t.sum_of_balances_minor != 0]


def ledger_is_consistent(findings: LedgerFindings) -> bool:
    """All four rules hold."""
    return not (
        currencies_not_summing_to_zero(findings)
        or findings.unbalanced_transactions
        or findings.accounts_not_matching_flows
        or findings.accounts_below_zero
    )
