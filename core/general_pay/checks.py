"""Checks of a general pay command's amounts and of the accounts it names (parties, fee, solutions)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from core.errors import BusinessRuleViolation, InvalidArgument, NotFound
from core.general_pay.model import GeneralPayCommand
from core.ledger import AccountKind, AccountStatus, AccountView
from core.money import Money, check_currency
from core.money import check_amounts as check_money_amounts

if TYPE_CHECKING:
    from core.general_pay.fees import ResolvedFee

# -- amounts -------------------------------------------------------------------------------------


def _amounts(cmd: GeneralPayCommand) -> Iterator[tuple[str, Money, bool]]:
    """Every amount of the command as (field, money, zero allowed)."""
    yield "cash_amount", cmd.cash_amount, False
    if cmd.fee is not None:
        yield "fee.fee_amount", cmd.fee.fee_amount, True
    if cmd.buyer_fee is not None:
        yield "buyer_fee.amount", cmd.buyer_fee.amount, True  # zero: no buyer fee
    for i, merchant in enumerate(cmd.upper_merchants):
        yield f"upper_merchants[{i}].fee_amount", merchant.fee_amount, True
        yield f"upper_merchants[{i}].fee_plus_amount", merchant.fee_plus_amount, True
    for i, share in enumerate(cmd.profit_shares):
        yield f"profit_shares[{i}].amount", share.amount, False
    if cmd.marketing is not None:
        yield "marketing.amount", cmd.marketing.amount, True


def check_amounts(cmd: GeneralPayCommand) -> str:
    """All amounts in the cash amount's currency and of the right sign; returns the currency."""
    currency = check_currency(cmd.cash_amount.currency, field="cash_amount")
    check_money_amounts(_amounts(cmd), currency, of="payment")
    return currency


# -- accounts ------------------------------------------------------------------------------------


def check_parties(cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str) -> None:
    if cmd.buyer_account_id == cmd.seller_account_id:
        raise InvalidArgument(
            "buyer and seller are the same account; name two different ones",
            field="seller_account_id",
            code="PAYER_PAYEE_SAME",
        )
    for field, account_id in (
        ("buyer_account_id", cmd.buyer_account_id),
        ("seller_account_id", cmd.seller_account_id),
    ):
        account = accounts.get(account_id)
        if account is None:  # 404, as ACCOUNT_NOT_FOUND is on every route
            raise NotFound(
                f"account {account_id} does not exist; name an existing account",
                field=field,
                code="ACCOUNT_NOT_FOUND",
            )
        if account.status is not AccountStatus.NORMAL:
            raise BusinessRuleViolation(
                f"account {account_id} is {account.status}; only a normal account can trade",
                field=field,
                code="ACCOUNT_NOT_NORMAL",
            )
        _check_account_currency(account, currency, field)


def _check_account_currency(account: AccountView, currency: str, field: str) -> None:
    if account.currency != currency:
        raise BusinessRuleViolation(
            f"account {account.id} holds {account.currency}, not the payment's {currency}",
            field=field,
            code="ACCOUNT_CURRENCY_MISMATCH",
        )


def check_receiving_account(
    cmd: GeneralPayCommand,
    accounts: Mapping[str, AccountView],
    account_id: str,
    currency: str,
    *,
    field: str,
    prefix: str,
    label: str,
) -> None:
    """Seed rules for the fee and buyer-fee accounts: exist, are C accounts, are no party."""
    account = accounts.get(account_id)
    if account is None:
        raise BusinessRuleViolation(
            f"{label} {account_id} does not exist; name an existing one",
            field=field,
            code=f"{prefix}_NOT_FOUND",
        )
    if account.kind is not AccountKind.CUSTOMER:
        raise BusinessRuleViolation(
            f"{label} {account_id} is a {account.kind} account; finance requires a C account",
            field=field,
            code=f"{prefix}_NOT_CUSTOMER",
        )
    if account_id in (cmd.buyer_account_id, cmd.seller_account_id):
        raise BusinessRuleViolation(
            f"{label} {account_id} is the buyer or the seller; name a third account",
            field=field,
            code=f"{prefix}_IS_PARTY",
        )
    _check_account_currency(account, currency, field)


def charges_buyer_fee(cmd: GeneralPayCommand) -> bool:
    """The seed includes a buyer fee only `if (input_buyer_fee_amount > 0)`: zero is no buyer fee."""
    return cmd.buyer_fee is not None and cmd.buyer_fee.amount.minor > 0


def check_buyer_fee(cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str) -> None:
    if cmd.buyer_fee is not None and charges_buyer_fee(cmd):
        check_receiving_account(
            cmd,
            accounts,
            cmd.buyer_fee.account_id,
            currency,
            field="buyer_fee.account_id",
            prefix="BUYER_FEE_ACCOUNT",
            label="buyer fee account",
        )


def _solution_accounts(cmd: GeneralPayCommand) -> Iterator[tuple[str, str]]:
    for i, merchant in enumerate(cmd.upper_merchants):
        yield f"upper_merchants[{i}].account_id", merchant.account_id
    for i, share in enumerate(cmd.profit_shares):
        yield f"profit_shares[{i}].account_id", share.account_id


def check_solution_accounts(
    cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str, fee: ResolvedFee | None
) -> None:
    """Accounts named by the fee and profit-sharing solutions: exist, normal, no party."""
    parties = (cmd.buyer_account_id, cmd.seller_account_id)
    for field, account_id in _solution_accounts(cmd):
        account = accounts.get(account_id)
        if account is None:
            problem = "does not exist"
        elif account.status is not AccountStatus.NORMAL:
            problem = f"is {account.status}, not normal"
        elif account_id in parties:
            problem = "is the buyer or the seller"
        else:
            _check_account_currency(account, currency, field)
            continue
        raise BusinessRuleViolation(
            f"solution account {account_id} {problem}; name another",
            field=field,
            code="SOLUTION_ACCOUNT_INVALID",
        )
    for i, merchant in enumerate(cmd.upper_merchants):
        # The wallet passing the fee to itself would hide which hop kept what.
        if fee is not None and merchant.account_id == fee.account_id:
            raise BusinessRuleViolation(
                f"upper merchant {merchant.account_id} is the fee account; name another",
                field=f"upper_merchants[{i}].account_id",
                code="SOLUTION_ACCOUNT_INVALID",
            )
