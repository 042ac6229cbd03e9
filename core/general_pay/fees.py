"""The seller's fee: its terms resolved, and its path up the upper merchants' chain to the wallet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import BusinessRuleViolation, InvalidArgument
from core.general_pay.checks import check_receiving_account
from core.general_pay.model import (
    MAX_UPPER_MERCHANTS,
    FeeType,
    GeneralPayCommand,
    MerchantLevel,
    SettlementType,
    UpperMerchant,
)
from core.ledger import AccountView, FlowKind
from core.money import Money

# Allowed sorted merchant levels by number of merchants: a sole merchant of either level is
# the top one; two need one middle and one top.
_VALID_LEVELS: dict[int, frozenset[tuple[int, ...]]] = {
    0: frozenset({()}),
    1: frozenset({(MerchantLevel.MIDDLE,), (MerchantLevel.TOP,)}),
    2: frozenset({(MerchantLevel.MIDDLE, MerchantLevel.TOP)}),
}


@dataclass(frozen=True, slots=True)
class ResolvedFee:
    amount: Money
    account_id: str
    fee_type: FeeType
    settlement: SettlementType


@dataclass(frozen=True, slots=True)
class FeeHop:
    source: str
    target: str
    amount: Money
    kind: FlowKind
    memo: str


def resolve_fee(
    cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str
) -> ResolvedFee | None:
    terms = cmd.fee
    if terms is None:
        return None
    given = [
        terms.fee_type is not None,
        terms.fee_settlement_type is not None,
        terms.pay_mode is not None,
    ]
    if any(given) and not all(given):
        raise InvalidArgument(
            "fee.fee_type, fee.fee_settlement_type and fee.pay_mode go together: give all three or none",
            field="fee",
            code="FEE_TERMS_INCOMPLETE",
        )
    if cmd.cash_amount < terms.fee_amount:
        raise BusinessRuleViolation(
            f"fee {terms.fee_amount} exceeds the cash amount {cmd.cash_amount}; lower the fee",
            field="fee.fee_amount",
            code="FEE_EXCEEDS_AMOUNT",
        )
    fee = ResolvedFee(
        terms.fee_amount,
        terms.fee_account_id,
        terms.fee_type or FeeType.DEDUCTED,
        terms.fee_settlement_type or cmd.settlement_type,
    )
    if fee.settlement is SettlementType.REALTIME:
        if fee.fee_type is FeeType.COLLECT_LATER:
            raise BusinessRuleViolation(
                "a fee collected later cannot be settled in real time; settle it asynchronously or deduct it",
                field="fee.fee_settlement_type",
                code="FEE_SETTLEMENT_CONFLICT",
            )
        if cmd.settlement_type is SettlementType.ASYNC:
            raise BusinessRuleViolation(
                "an asynchronous trade needs an asynchronous fee settlement: the trade must settle "
                "before its fee",
                field="fee.fee_settlement_type",
                code="FEE_SETTLEMENT_CONFLICT",
            )
    if fee.amount.minor:  # the seed checks the fee account only when `0 != info.fee_amount`
        check_receiving_account(
            cmd,
            accounts,
            fee.account_id,
            currency,
            field="fee.fee_account_id",
            prefix="FEE_ACCOUNT",
            label="fee account",
        )
    return fee


# -- fee chain -----------------------------------------------------------------------------------


def _check_merchant_shape(cmd: GeneralPayCommand) -> None:
    merchants = cmd.upper_merchants
    if len(merchants) > MAX_UPPER_MERCHANTS or len(cmd.fee_solution) != len(merchants):
        raise InvalidArgument(
            f"{len(merchants)} upper merchants and {len(cmd.fee_solution)} fee solution accounts; "
            f"give at most {MAX_UPPER_MERCHANTS} merchants and name each once in fee_solution",
            field="upper_merchants",
            code="UPPER_MERCHANT_COUNT_INVALID",
        )
    if merchants and cmd.fee is None:
        raise InvalidArgument(
            "upper merchants share a fee; give fee terms or no upper merchants",
            field="upper_merchants",
            code="UPPER_MERCHANT_WITHOUT_FEE",
        )
    ids = [m.account_id for m in merchants]
    if len(set(ids)) != len(ids):
        raise InvalidArgument(
            "an account is named at two merchant levels; name each once",
            field="upper_merchants",
            code="UPPER_MERCHANT_DUPLICATE",
        )
    levels = tuple(sorted(int(m.level) for m in merchants))
    if levels not in _VALID_LEVELS[len(merchants)]:
        raise InvalidArgument(
            f"merchant levels {levels}; two levels need one middle (1) and one top (2) merchant",
            field="upper_merchants",
            code="UPPER_MERCHANT_LEVELS_INVALID",
        )
    for i, account_id in enumerate(cmd.fee_solution):
        if account_id not in ids:
            raise InvalidArgument(
                f"fee solution account {account_id} is none of the upper merchants; name theirs",
                field=f"fee_solution[{i}]",
                code="FEE_SOLUTION_MERCHANT_UNKNOWN",
            )
    for i, account_id in enumerate(ids):
        if account_id not in cmd.fee_solution:
            raise InvalidArgument(
                f"upper merchant {account_id} is missing from the fee solution; name it there",
                field=f"upper_merchants[{i}].account_id",
                code="FEE_SOLUTION_MERCHANT_MISSING",
            )


def fee_hops(cmd: GeneralPayCommand, fee: ResolvedFee | None, currency: str) -> tuple[list[FeeHop], Money]:
    """The fee's path up the agent chain to the wallet, and what the wallet receives."""
    _check_merchant_shape(cmd)
    if fee is None:
        return [], Money.zero(currency)
    seller, wallet = cmd.seller_account_id, fee.account_id
    by_level = {m.level: (i, m) for i, m in enumerate(cmd.upper_merchants)}
    if not by_level:
        chain: list[tuple[str, Money]] = [(wallet, fee.amount)]
    elif len(by_level) == 1:
        [(i, top)] = by_level.values()
        _require_fee_plus(i, top, Money.zero(currency), "the only level")
        _require_within(i, top, fee.amount, "the fee")
        chain = [(top.account_id, fee.amount), (wallet, top.fee_amount)]
    else:
        j, middle = by_level[MerchantLevel.MIDDLE]
        i, top = by_level[MerchantLevel.TOP]
        _require_fee_plus(i, top, middle.fee_amount, "what the middle merchant passes up")
        _require_within(j, middle, fee.amount, "the fee")
        _require_within(i, top, middle.fee_amount, "the middle merchant's fee_amount")
        chain = [
            (middle.account_id, fee.amount),
            (top.account_id, middle.fee_amount),
            (wallet, top.fee_amount),
        ]
    hops: list[FeeHop] = []
    source = seller
    for n, (target, amount) in enumerate(chain):
        kind = FlowKind.FEE if n == 0 else FlowKind.FEE_SHARE
        if amount.minor:
            hops.append(FeeHop(source, target, amount, kind, "fee" if n == 0 else "fee share"))
        source = target
    return hops, chain[-1][1]


def _require_fee_plus(i: int, merchant: UpperMerchant, expected: Money, what: str) -> None:
    if merchant.fee_plus_amount != expected:
        raise BusinessRuleViolation(
            f"top merchant fee_plus_amount is {merchant.fee_plus_amount}; it must equal {what} ({expected})",
            field=f"upper_merchants[{i}].fee_plus_amount",
            code="UPPER_MERCHANT_FEE_PLUS_INVALID",
        )


def _require_within(i: int, merchant: UpperMerchant, received: Money, what: str) -> None:
    if received < merchant.fee_amount:
        raise BusinessRuleViolation(
            f"upper merchant {merchant.account_id} passes on {merchant.fee_amount}, more than "
            f"{what} it receives ({received}); lower its fee_amount",
            field=f"upper_merchants[{i}].fee_amount",
            code="UPPER_MERCHANT_FEE_EXCEEDS",
        )
