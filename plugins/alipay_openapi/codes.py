"""Alipay gateway codes and the classification of business sub_codes into what to do next."""

from __future__ import annotations

import enum


class GatewayCode(enum.StrEnum):
    """The public gateway `code` values of an OpenAPI answer."""

    SUCCESS = "10000"
    SERVICE_UNAVAILABLE = "20000"
    INSUFFICIENT_AUTHORISATION = "20001"
    MISSING_PARAMETER = "40001"
    INVALID_PARAMETER = "40002"
    BUSINESS_FAILED = "40004"
    INSUFFICIENT_PERMISSION = "40006"

    @classmethod
    def parse(cls, code: str | None) -> GatewayCode | None:
        """The member for `code`, or None for a code this library does not know."""
        try:
            return cls(code) if code is not None else None
        except ValueError:
            return None


class SubCodeClass(enum.StrEnum):
    """What a failed answer tells the caller to do."""

    UNKNOWN_OUTCOME = "unknown_outcome"  # query, or resend the same request; never "failed"
    BACK_OFF = "back_off"  # not done; the same request may be retried later
    INSUFFICIENT_FUNDS = "insufficient_funds"  # not done; retry once the payer account is funded
    PERMANENT = "permanent"  # not done and never will be with these parameters


# A refusal for which Alipay made no transfer or trade: nothing was paid, so the payment is
# final (a new attempt is a new payment). Only verified answers are classified at all.
NOT_PAID = frozenset({SubCodeClass.PERMANENT, SubCodeClass.BACK_OFF, SubCodeClass.INSUFFICIENT_FUNDS})


_UNKNOWN_OUTCOME = frozenset(
    # TRADE_NOT_EXIST, like ORDER_NOT_EXIST, says "not visible (yet)", never "failed"
    {"SYSTEM_ERROR", "UNKNOW-ERROR", "UNKNOWN-ERROR", "ORDER_NOT_EXIST", "TRADE_NOT_EXIST"}
)
_BACK_OFF = frozenset({"RESOURCE_LIMIT_EXCEED", "INST_PAY_UNABLE"})
_INSUFFICIENT_FUNDS = frozenset(
    {
        "PAYER_BALANCE_NOT_ENOUGH",
        "BALANCE_IS_NOT_ENOUGH",
        # acquiring (alipay.trade.pay): the buyer's funds did not cover a withholding deduction
        "BUYER_BALANCE_NOT_ENOUGH",
        "BUYER_BANKCARD_BALANCE_NOT_ENOUGH",
    }
)
_PERMANENT = frozenset(
    {
        "PAYEE_NOT_EXIST",
        "PAYEE_ACCOUNT_NOT_EXSIT",  # sic: Alipay's spelling
        "PAYEE_ACCOUNT_NOT_EXIST",
        "PAYEE_USER_INFO_ERROR",
        "PAYEE_ACCOUNT_STATUS_ERROR",
        "CARD_BIN_ERROR",
        "PAYEE_CARD_INFO_ERROR",
        "INVALID_PARAMETER",
        "PAYMENT_INFO_INCONSISTENCY",
        "PAYER_PAYEE_CANNOT_SAME",
        # acquiring with a withholding agreement: no trade was made, and none will be
        "AGREEMENT_NOT_EXIST",
        "AGREEMENT_INVALID",
        "AGREEMENT_STATUS_NOT_NORMAL",
        "TRADE_HAS_CLOSE",
        "PAYMENT_FAIL",
    }
)
_PERMANENT_PREFIXES = ("EXCEED_LIMIT_",)
# The gateway refused the request before any business processing: nothing was executed.
_REJECTED_BY_GATEWAY = frozenset(
    {
        GatewayCode.INSUFFICIENT_AUTHORISATION,
        GatewayCode.MISSING_PARAMETER,
        GatewayCode.INVALID_PARAMETER,
        GatewayCode.INSUFFICIENT_PERMISSION,
    }
)


def normalise_sub_code(sub_code: str) -> str:
    """Upper-case, without a namespace prefix: `ACQ.SYSTEM_ERROR` and `SYSTEM_ERROR` are one."""
    return sub_code.strip().rsplit(".", 1)[-1].upper()


def classify_sub_code(sub_code: str | None, code: str | None = None) -> SubCodeClass:
    """Classify a failed answer by its `sub_code` (and gateway `code` when the sub_code is not
    one this library knows).

    Code 20000, `SYSTEM_ERROR` and timeouts mean the outcome is unknown. A sub_code that is
    not recognised is also taken as an unknown outcome: only a query may turn it into a
    failure. Gateway rejections (20001, 40001, 40002, 40006) are permanent.
    """
    gateway_code = GatewayCode.parse(code)
    if gateway_code is GatewayCode.SERVICE_UNAVAILABLE:
        return SubCodeClass.UNKNOWN_OUTCOME
    if sub_code:
        name = normalise_sub_code(sub_code)
        if name in _UNKNOWN_OUTCOME or "TIMEOUT" in name or "TIME_OUT" in name:
            return SubCodeClass.UNKNOWN_OUTCOME
        if name in _BACK_OFF:
            return SubCodeClass.BACK_OFF
        if name in _INSUFFICIENT_FUNDS:
            return SubCodeClass.INSUFFICIENT_FUNDS
        if name in _PERMANENT or name.startswith(_PERMANENT_PREFIXES):
            return SubCodeClass.PERMANENT
    if gateway_code in _REJECTED_BY_GATEWAY:
        return SubCodeClass.PERMANENT
    return SubCodeClass.UNKNOWN_OUTCOME


_SYSTEM_FAULTS = frozenset({"SYSTEM_ERROR", "UNKNOW-ERROR", "UNKNOWN-ERROR"})


def is_system_fault(sub_code: str | None, code: str | None = None) -> bool:
    """True when a failed answer says only that Alipay could not decide (code 20000, a system
    error, a timeout): the request may still take effect. Any other verified failure of an
    operation that moves no money (create an order, start a signing ...) is a refusal."""
    if GatewayCode.parse(code) is GatewayCode.SERVICE_UNAVAILABLE:
        return True
    name = normalise_sub_code(sub_code or "")
    return name in _SYSTEM_FAULTS or "TIMEOUT" in name or "TIME_OUT" in name
