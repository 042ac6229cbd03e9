"""Double-entry ledger rules: accounts and what opening one creates, postings, the balance
invariant, and the funding plan."""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import BalanceLimitExceeded, InvalidArgument
from core.ids import new_id
from core.money import CURRENCY_EXPONENTS, Money


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


# An amount has at most 16 integer digits (core/money.py); so has a balance.
BALANCE_INTEGER_DIGITS = 16


def balance_limit(currency: str) -> int:
    """The largest balance (and below zero, the smallest) in minor units an account of
    `currency` may hold, and the largest net change one transaction may make to it: what an
    amount can say (9999999999999999.99 CNY). Twice it still fits a 64-bit integer, so a
    database adding a change within it to a balance within it never overflows (PostgreSQL
    would refuse the statement; SQLite would turn the sum into a float)."""
    digits: int = BALANCE_INTEGER_DIGITS + CURRENCY_EXPONENTS[currency]
    return int(10**digits) - 1


def within_limit(balance_after: int, currency: str) -> bool:
    limit = balance_limit(currency)
    return -limit <= balance_after <= limit


def check_balanced(postings: Sequence[Posting]) -> None:
    """Every ledger transaction sums to zero per currency, has no zero legs, and changes no
    account by more than its currency's `balance_limit`."""
    if not postings:
        raise InvalidArgument("a ledger transaction needs at least one posting", code="UNBALANCED")
    totals: dict[str, int] = defaultdict(int)
    changes: dict[tuple[str, SubAccount, str], int] = defaultdict(int)
    for posting in postings:
        minor, currency = posting.amount.minor, posting.amount.currency
        if minor == 0:
            raise InvalidArgument("a posting of zero is not a ledger flow", code="UNBALANCED")
        totals[currency] += minor
        changes[(posting.account_id, posting.sub_account, currency)] += minor
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise InvalidArgument(f"ledger transaction does not balance: {unbalanced}", code="UNBALANCED")
    for (account_id, _, currency), change in changes.items():
        if not within_limit(change, currency):
            raise balance_limit_refusal(account_id)


def balance_limit_refusal(account_id: str) -> BalanceLimitExceeded:
    return BalanceLimitExceeded(
        f"account {account_id}: this would take its balance, or change it, beyond 16 integer digits "
        "(the most an amount can say); nothing was booked"
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


# The ledger's own account ids: an opened account's (`new_id("acc")`), an app's company paying
# and write-off accounts' (gateway/storage/bills.py) and the outside world's (above). Letters,
# digits and underscores only: an e-mail logon id that happens to begin `acc_` is not one.
_LEDGER_ACCOUNT_ID = re.compile(r"(?:acc|cpay|cwof)_[0-9A-Za-z_]+|ext_cash_[a-z]{3}")


def is_ledger_account_id(account: str) -> bool:
    """Whether `account` names an account of this ledger, not one outside it (an Alipay logon id,
    a bank account or card number), which answers and pages show only masked."""
    return _LEDGER_ACCOUNT_ID.fullmatch(account) is not None


@dataclass(frozen=True, slots=True)
class BankCard:
    """An account owner's registered bank card (where the bank pays them: bills' applicants)."""

    card_no: str
    name: str
    bank_name: str | None = None
    # CNAPS 联行号 (12 digits: bank code, city code, branch, check digit): where the bank pays it
    bank_no: str | None = None


@dataclass(frozen=True, slots=True)
class NewAccount:
    """An account to open: its view, the app that may use it (None: the platform's own) and the
    owner's bank card. Every account opens with zero balances; storage only writes it."""

    view: AccountView
    app_id: str | None
    bank_card: BankCard | None = None


def account_to_open(
    app_id: str | None,
    owner: str,
    kind: AccountKind,
    currency: str,
    *,
    allow_overdraft: bool = False,
    account_id: str | None = None,
    bank_card: BankCard | None = None,
) -> NewAccount:
    """An app's (or the platform's) new account, in normal status, under a new id unless given."""
    view = AccountView(
        id=account_id or new_id("acc"),
        owner=owner,
        kind=kind,
        currency=currency,
        status=AccountStatus.NORMAL,
        allow_overdraft=allow_overdraft,
    )
    return NewAccount(view, app_id, bank_card)


def external_account(currency: str) -> NewAccount:
    """The platform's cash-in/cash-out account of `currency`: no app's, and it may go below zero
    (its balance is minus what the outside world has put into the ledger)."""
    return account_to_open(
        None,
        "outside world",
        AccountKind.EXTERNAL,
        currency,
        allow_overdraft=True,
        account_id=external_account_id(currency),
    )


@dataclass(frozen=True, slots=True)
class FundingPlan:
    """Funding an account: money comes in from the outside world's account of its currency,
    which is opened on first use (`source`, opened only if missing)."""

    source: NewAccount
    postings: tuple[Posting, ...]


def funding_plan(account_id: str, amount: Money, *, memo: str = "") -> FundingPlan:
    source = external_account(amount.currency)
    return FundingPlan(source, transfer(source.view.id, account_id, amount, FlowKind.FUNDING, memo=memo))
