"""Double-entry ledger rules: accounts, postings, and the balance invariant."""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import InvalidArgument
from core.money import Money


class AccountKind(enum.StrEnum):
    """C customer, B merchant, the company itself, or an external (outside-world) account."""

    CUSTOMER = "C"
    MERCHANT = "B"
    COMPANY = "company"
    EXTERNAL = "external"


class AccountStatus(enum.StrEnum):
    NORMAL = "normal"
    FROZEN = "frozen"


class SubAccount(enum.StrEnum):
    """Seed 003: a real-time settled trade credits sub-account 1, an asynchronous one 3."""

    AVAILABLE = "1"
    PENDING = "3"


class FlowKind(enum.StrEnum):
    """What a ledger flow is for (转入/转出, fee, write-off ...); direction comes from the sign."""

    FUNDING = "funding"
    TRANSFER = "transfer"
    FEE = "fee"
    FEE_SHARE = "fee_share"
    BUYER_FEE = "buyer_fee"
    PROFIT_SHARE = "profit_share"
    SETTLEMENT = "settlement"
    WRITE_OFF = "write_off"
    LOAN = "loan"
    REIMBURSEMENT = "reimbursement"
    PAYOUT = "payout"


@dataclass(frozen=True, slots=True)
class AccountView:
    """What rules need to know about an account; balances live in storage."""

    id: str
    owner: str
    kind: AccountKind
    currency: str
    status: AccountStatus = AccountStatus.NORMAL
    allow_overdraft: bool = False


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg of a ledger transaction: positive credits the account (转入), negative debits (转出)."""

    account_id: str
    amount: Money
    kind: FlowKind
    sub_account: SubAccount = SubAccount.AVAILABLE
    memo: str = ""


def check_balanced(postings: Sequence[Posting]) -> None:
    """Every ledger transaction sums to zero per currency and has no zero legs."""
    if not postings:
        raise InvalidArgument("a ledger transaction needs at least one posting", code="UNBALANCED")
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.amount.minor == 0:
            raise InvalidArgument("a posting of zero is not a ledger flow", code="UNBALANCED")
        totals[posting.amount.currency] += posting.amount.minor
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise InvalidArgument(
            f"ledger transaction does not balance: {unbalanced}", code="UNBALANCED"
        )


def transfer(
    source: str,
    target: str,
    amount: Money,
    kind: FlowKind,
    *,
    source_sub: SubAccount = SubAccount.AVAILABLE,
    target_sub: SubAccount = SubAccount.AVAILABLE,
    memo: str = "",
) -> tuple[Posting, Posting]:
    """The two legs of moving `amount` from `source` to `target` (转出 then 转入)."""
    return (
        Posting(source, -amount, kind, source_sub, memo),
        Posting(target, amount, kind, target_sub, memo),
    )


def net_by_account(postings: Iterable[Posting]) -> dict[tuple[str, SubAccount], Money]:
    """Sum the legs per (account, sub-account), dropping those that cancel out."""
    net: dict[tuple[str, SubAccount], Money] = {}
    for p in postings:
        key = (p.account_id, p.sub_account)
        net[key] = net[key] + p.amount if key in net else p.amount
    return {k: v for k, v in net.items() if v.minor != 0}


def external_account_id(currency: str) -> str:
    """The one cash-in/cash-out account per currency standing for the outside world."""
    return f"ext_cash_{currency.lower()}"
