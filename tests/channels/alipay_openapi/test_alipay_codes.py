"""What a failed answer tells the caller to do, per CHANNELS.md's reading of Alipay's advice."""

from __future__ import annotations

import pytest

from plugins.alipay_openapi.codes import GatewayCode, SubCodeClass, classify_sub_code


@pytest.mark.parametrize(
    ("sub_code", "code", "expected"),
    [
        ("SYSTEM_ERROR", "40004", SubCodeClass.UNKNOWN_OUTCOME),
        ("ACQ.SYSTEM_ERROR", "40004", SubCodeClass.UNKNOWN_OUTCOME),
        ("isp.unknow-error", "20000", SubCodeClass.UNKNOWN_OUTCOME),
        (None, "20000", SubCodeClass.UNKNOWN_OUTCOME),
        ("PAYEE_NOT_EXIST", "20000", SubCodeClass.UNKNOWN_OUTCOME),
        ("aop.TIMEOUT", "40004", SubCodeClass.UNKNOWN_OUTCOME),
        ("ORDER_NOT_EXIST", "40004", SubCodeClass.UNKNOWN_OUTCOME),
        ("RESOURCE_LIMIT_EXCEED", "40004", SubCodeClass.BACK_OFF),
        ("INST_PAY_UNABLE", "40004", SubCodeClass.BACK_OFF),
        ("PAYER_BALANCE_NOT_ENOUGH", "40004", SubCodeClass.INSUFFICIENT_FUNDS),
        ("BALANCE_IS_NOT_ENOUGH", "40004", SubCodeClass.INSUFFICIENT_FUNDS),
        ("PAYEE_NOT_EXIST", "40004", SubCodeClass.PERMANENT),
        ("PAYEE_ACCOUNT_NOT_EXSIT", "40004", SubCodeClass.PERMANENT),
        ("PAYEE_USER_INFO_ERROR", "40004", SubCodeClass.PERMANENT),
        ("PAYEE_ACCOUNT_STATUS_ERROR", "40004", SubCodeClass.PERMANENT),
        ("CARD_BIN_ERROR", "40004", SubCodeClass.PERMANENT),
        ("PAYEE_CARD_INFO_ERROR", "40004", SubCodeClass.PERMANENT),
        ("INVALID_PARAMETER", "40004", SubCodeClass.PERMANENT),
        ("PAYMENT_INFO_INCONSISTENCY", "40004", SubCodeClass.PERMANENT),
        ("PAYER_PAYEE_CANNOT_SAME", "40004", SubCodeClass.PERMANENT),
        ("EXCEED_LIMIT_SM_MIN_AMOUNT", "40004", SubCodeClass.PERMANENT),
        ("EXCEED_LIMIT_DM_AMOUNT", "40004", SubCodeClass.PERMANENT),
        ("isv.invalid-signature", "40002", SubCodeClass.PERMANENT),
        ("isv.missing-method", "40001", SubCodeClass.PERMANENT),
        ("aop.invalid-auth-token", "20001", SubCodeClass.PERMANENT),
        (None, "40006", SubCodeClass.PERMANENT),
        ("SOMETHING_NEW", "40004", SubCodeClass.UNKNOWN_OUTCOME),
        (None, None, SubCodeClass.UNKNOWN_OUTCOME),
    ],
)
def test_classification(sub_code: str | None, code: str | None, expected: SubCodeClass) -> None:
    assert classify_sub_code(sub_code, code) is expected


def test_gateway_codes_parse_and_unknown_codes_do_not() -> None:
    assert GatewayCode.parse("40004") is GatewayCode.BUSINESS_FAILED
    assert GatewayCode.parse("99999") is None
    assert GatewayCode.parse(None) is None
