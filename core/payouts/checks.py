"""The check of each applied item: its shape, then the payout rules; first fault wins."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from core.errors import DomainError
from core.money import Money
from core.payouts.items import BankInfoBody, PayoutExtBody, PayoutItemBody
from core.payouts.model import (
    CREDIT_CARD_CODE,
    PAY_METHOD_CODES,
    PAYOUT_CURRENCY,
    BankInfo,
    BusinessType,
    PayBackType,
    PayMethod,
    PayoutApplication,
    PayoutType,
    Voucher,
)
from core.payouts.payees import is_alipay_user_id


class ItemCode(enum.StrEnum):
    """Why an applied item was rejected; each item is answered on its own."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"  # missing, unknown or mistyped field
    INVALID_AMOUNT = "INVALID_AMOUNT"  # not a positive decimal string with at most 2 decimals
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    INVALID_PAYOUT_TYPE = "INVALID_PAYOUT_TYPE"
    INVALID_PAY_METHOD = "INVALID_PAY_METHOD"
    UNSUPPORTED_PAY_METHOD = "UNSUPPORTED_PAY_METHOD"  # 3, credit card
    INVALID_PAY_BACK_TYPE = "INVALID_PAY_BACK_TYPE"
    PAYEE_NAME_REQUIRED = "PAYEE_NAME_REQUIRED"
    BANK_INFO_REQUIRED = "BANK_INFO_REQUIRED"
    BANK_INFO_NOT_APPLICABLE = "BANK_INFO_NOT_APPLICABLE"
    VOUCHER_REQUIRED = "VOUCHER_REQUIRED"
    AMOUNT_LIMIT_EXCEEDED = "AMOUNT_LIMIT_EXCEEDED"
    NO_ROUTE = "NO_ROUTE"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"


@dataclass(frozen=True, slots=True)
class ItemProblem:
    """Why one item was rejected: a stable code, a message, the field at fault."""

    code: str
    message: str
    field: str | None = None


def _validation_problem(exc: ValidationError) -> ItemProblem:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing" or first.get("input", ...) is None:
        message = "this field is required"
    else:
        message = first["msg"]
    code = ItemCode.INVALID_AMOUNT if where == "amount" else ItemCode.INVALID_ARGUMENT
    return ItemProblem(code, f"{where}: {message}" if where else message, where)


class _Refused(Exception):
    """An item's first fault, raised by a rule and answered by `check_item`."""

    def __init__(self, code: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.problem = ItemProblem(code, message, field)


def check_item(raw: object) -> PayoutApplication | ItemProblem:
    """Check one applied item on its own: its shape, then the payout rules, first fault wins."""
    try:
        return _checked(_parse_item(raw))
    except _Refused as refused:
        return refused.problem


def _parse_item(raw: object) -> PayoutItemBody:
    for key in ("ext", "extData"):
        if isinstance(raw, Mapping) and isinstance(raw.get(key), str):
            # the seed sends ExtData as a JSON string; an object is accepted as well
            try:
                raw = {**raw, key: json.loads(raw[key])}
            except ValueError:
                raise _Refused(ItemCode.INVALID_ARGUMENT, "ext: not a JSON object", "ext") from None
    if not isinstance(raw, Mapping):
        raise _Refused(ItemCode.INVALID_ARGUMENT, "an item must be a JSON object", None)
    try:
        return PayoutItemBody.model_validate(dict(raw))
    except ValidationError as exc:
        problem = _validation_problem(exc)
        raise _Refused(problem.code, problem.message, problem.field) from None


def _checked(body: PayoutItemBody) -> PayoutApplication:
    """The payout rules, in the order their faults are reported."""
    ext = body.ext
    amount = _amount(body)
    payout_type = _payout_type(ext)
    pay_method = _pay_method(ext)
    pay_back_type = _pay_back_type(ext)
    bank = _payee(body, pay_method)
    if payout_type is PayoutType.TEST_REIMBURSEMENT and ext.voucher is None:
        raise _Refused(
            ItemCode.VOUCHER_REQUIRED,
            "a test-bill reimbursement (type 8) needs the uploaded voucher: ext.voucher.ref",
            "ext.voucher",
        )
    return PayoutApplication(
        serial_no=body.serial_no,
        order_serial_no=body.order_serial_no,
        payee_account=body.payee_account,
        amount=amount,
        type=payout_type,
        pay_method=pay_method,
        pay_back_type=pay_back_type,
        reason=ext.reason,
        business_type=BusinessType(ext.business_type),
        send_sms=ext.send_sms,
        sms_phone=ext.sms_phone,
        pay_type=ext.pay_type,
        payee_name=ext.payee_name,
        insurance_merchant=ext.insurance_merchant,
        creator=ext.creator,
        bank=bank,
        voucher=None if ext.voucher is None else Voucher(ext.voucher.ref, ext.voucher.sha256),
    )


def _amount(body: PayoutItemBody) -> Money:
    if body.currency != PAYOUT_CURRENCY:
        raise _Refused(
            ItemCode.UNSUPPORTED_CURRENCY, f"payouts are paid in {PAYOUT_CURRENCY} only", "currency"
        )
    try:
        return Money.parse(body.amount, body.currency)
    except DomainError as exc:
        raise _Refused(ItemCode.INVALID_AMOUNT, exc.message, "amount") from None


def _payout_type(ext: PayoutExtBody) -> PayoutType:
    try:
        return PayoutType(ext.type)
    except ValueError:
        raise _Refused(
            ItemCode.INVALID_PAYOUT_TYPE, f"type {ext.type} is not a payout type (0–8)", "ext.type"
        ) from None


def _pay_method(ext: PayoutExtBody) -> PayMethod:
    if ext.pay_method == CREDIT_CARD_CODE:
        raise _Refused(
            ItemCode.UNSUPPORTED_PAY_METHOD,
            "pay method 3 (credit card) is not supported: use 1 (Alipay) or 2 (bank transfer)",
            "ext.pay_method",
        )
    if ext.pay_method not in PAY_METHOD_CODES:
        raise _Refused(
            ItemCode.INVALID_PAY_METHOD,
            f"pay_method {ext.pay_method} is not 1 (Alipay) or 2 (bank transfer)",
            "ext.pay_method",
        )
    return PAY_METHOD_CODES[ext.pay_method]


def _pay_back_type(ext: PayoutExtBody) -> PayBackType:
    try:
        return PayBackType(ext.pay_back_type)
    except ValueError:
        raise _Refused(
            ItemCode.INVALID_PAY_BACK_TYPE,
            f"pay_back_type {ext.pay_back_type} is not 0, 1 or 2",
            "ext.pay_back_type",
        ) from None


def _payee(body: PayoutItemBody, pay_method: PayMethod) -> BankInfo | None:
    """The payee's bank for a bank payout (None for Alipay), after the payee rules of its
    pay method."""
    ext = body.ext
    bank = ext.bank if ext.bank is not None and ext.bank.given else None
    if pay_method is PayMethod.BANK:
        return _bank_payee(ext, bank)
    if bank is not None:
        raise _Refused(
            ItemCode.BANK_INFO_NOT_APPLICABLE,
            "bank details are only for bank payouts (pay_method 2)",
            "ext.bank",
        )
    if not ext.payee_name and not is_alipay_user_id(body.payee_account):
        raise _Refused(
            ItemCode.PAYEE_NAME_REQUIRED,
            "Alipay needs the payee's name for a logon id (e-mail or phone); "
            "only an Alipay user id (2088…) may go without",
            "ext.payee_name",
        )
    return None


def _bank_payee(ext: PayoutExtBody, bank: BankInfoBody | None) -> BankInfo:
    """A bank payout needs the head bank, province, city and branch, and the payee's name."""
    missing = ["main_bank", "province", "city", "branch"] if bank is None else bank.missing
    if missing:
        raise _Refused(
            ItemCode.BANK_INFO_REQUIRED,
            f"a bank payout needs ext.bank.{missing[0]} (head bank, province, city and branch)",
            f"ext.bank.{missing[0]}",
        )
    if not ext.payee_name:
        raise _Refused(ItemCode.PAYEE_NAME_REQUIRED, "a bank payout needs the payee's name", "ext.payee_name")
    assert bank is not None  # nothing is missing
    return BankInfo(str(bank.main_bank), str(bank.province), str(bank.city), str(bank.branch), bank.bank_code)
