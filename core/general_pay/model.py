"""The general pay command and its terms, the plan it books, and every error code of its rules."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.ledger import Posting
from core.money import Money

MAX_UPPER_MERCHANTS = 2
TRADE_SETTLEMENT_ORDER = 1
FEE_SETTLEMENT_ORDER = 2

# Every code plan_general_pay can raise (besides UNSUPPORTED_CURRENCY from core.money).
ERROR_CODES: frozenset[str] = frozenset(
    {
        "INVALID_AMOUNT",
        "CURRENCY_MISMATCH",
        "PAYER_PAYEE_SAME",
        "FEE_TERMS_INCOMPLETE",
        "ACCOUNT_NOT_FOUND",
        "ACCOUNT_NOT_NORMAL",
        "ACCOUNT_CURRENCY_MISMATCH",
        "FEE_EXCEEDS_AMOUNT",
        "FEE_SETTLEMENT_CONFLICT",
        "FEE_ACCOUNT_NOT_FOUND",
        "FEE_ACCOUNT_NOT_CUSTOMER",
        "FEE_ACCOUNT_IS_PARTY",
        "BUYER_FEE_ACCOUNT_NOT_FOUND",
        "BUYER_FEE_ACCOUNT_NOT_CUSTOMER",
        "BUYER_FEE_ACCOUNT_IS_PARTY",
        "SOLUTION_ACCOUNT_INVALID",
        "UPPER_MERCHANT_WITHOUT_FEE",
        "UPPER_MERCHANT_COUNT_INVALID",
        "UPPER_MERCHANT_LEVELS_INVALID",
        "UPPER_MERCHANT_DUPLICATE",
        "UPPER_MERCHANT_FEE_PLUS_INVALID",
        "UPPER_MERCHANT_FEE_EXCEEDS",
        "FEE_SOLUTION_MERCHANT_UNKNOWN",
        "FEE_SOLUTION_MERCHANT_MISSING",
        "PROFIT_SHARE_EXCEEDS",
    }
)


class SettlementType(enum.StrEnum):
    REALTIME = "realtime"
    ASYNC = "async"


class FeeType(enum.IntEnum):
    DEDUCTED = 1  # 坐扣: taken from the seller with the trade's proceeds
    COLLECT_LATER = 2  # 后收: collected from the seller by a later settlement


class MerchantLevel(enum.IntEnum):
    MIDDLE = 1
    TOP = 2


class SettlementKind(enum.StrEnum):
    TRADE = "trade"
    FEE = "fee"


@dataclass(frozen=True, slots=True)
class FeeTerms:
    """The seller's fee; fee_type, fee_settlement_type and pay_mode come all together or none."""

    fee_amount: Money
    fee_account_id: str
    fee_type: FeeType | None = None
    fee_settlement_type: SettlementType | None = None
    pay_mode: str | None = None


@dataclass(frozen=True, slots=True)
class BuyerFee:
    amount: Money
    account_id: str


@dataclass(frozen=True, slots=True)
class UpperMerchant:
    """One level of the agent chain: `fee_amount` is what it passes up the chain."""

    account_id: str
    level: MerchantLevel
    fee_amount: Money
    fee_plus_amount: Money


@dataclass(frozen=True, slots=True)
class ProfitShare:
    account_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class MarketingSolution:
    solution_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class GeneralPayCommand:
    buyer_account_id: str
    seller_account_id: str
    cash_amount: Money
    settlement_type: SettlementType = SettlementType.REALTIME
    fee: FeeTerms | None = None
    buyer_fee: BuyerFee | None = None
    upper_merchants: tuple[UpperMerchant, ...] = ()
    fee_solution: tuple[str, ...] = ()
    profit_shares: tuple[ProfitShare, ...] = ()
    marketing: MarketingSolution | None = None


@dataclass(frozen=True, slots=True)
class DeferredSettlement:
    """Postings an asynchronous settlement worker applies later, lowest `order` first."""

    kind: SettlementKind
    order: int
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class GeneralPayPlan:
    postings: tuple[Posting, ...]
    deferred: tuple[DeferredSettlement, ...]
    seller_net: Money
    wallet_fee: Money
    marketing: MarketingSolution | None
