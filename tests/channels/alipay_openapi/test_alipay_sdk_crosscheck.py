"""Cross-check against Alipay's official Python SDK (alipay-sdk-python): same key, same params,
same bytes; each side verifies what the other signed. (Answers: the SDK's own client checks our
simulators' signatures in tests/channels/test_alipay_sdk_client.py.)"""

from __future__ import annotations

import pytest

from plugins.alipay_openapi.notify import sign_notification
from plugins.alipay_openapi.signing import (
    PrivateKey,
    PublicKey,
    build_sign_content,
    private_key_pem,
    public_key_pem,
    sign_params,
    verify_params,
)

signature_utils = pytest.importorskip("alipay.aop.api.util.SignatureUtils")

PARAMS = {
    "app_id": "2021000000000042",
    "method": "alipay.fund.trans.uni.transfer",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2024-01-01 08:00:05",
    "version": "1.0",
    "biz_content": '{"out_biz_no":"P-1","trans_amount":"12.30","order_title":"退款 a&b"}',
}


def pem_body(pem: str) -> str:
    """The base64 body of a PEM text: the SDK takes keys without their markers."""
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def sdk_private_key(key: PrivateKey) -> str:
    return pem_body(private_key_pem(key, pkcs1=True))


def sdk_public_key(key: PublicKey) -> str:
    return pem_body(public_key_pem(key))


def test_request_signatures_match_the_sdk_and_verify_each_other(app_key: PrivateKey) -> None:
    ours = sign_params(PARAMS, app_key)
    content = signature_utils.get_sign_content({k: v for k, v in PARAMS.items() if k != "sign"})
    assert content == build_sign_content(PARAMS)
    by_sdk = signature_utils.sign_with_rsa2(sdk_private_key(app_key), content, "utf-8")
    assert by_sdk == ours  # PKCS#1 v1.5 is deterministic
    assert verify_params(PARAMS, by_sdk, app_key.public_key())
    assert signature_utils.verify_with_rsa(sdk_public_key(app_key.public_key()), content.encode(), ours)


def test_a_notification_we_sign_verifies_with_the_sdk(alipay_key: PrivateKey) -> None:
    fields = {
        "app_id": "2021000000000042",
        "notify_id": "n-1",
        "out_biz_no": "P-1",
        "msg_method": "alipay.fund.trans.order.changed",
    }
    signed = sign_notification(fields, alipay_key)
    sign = signed.pop("sign")
    signed.pop("sign_type")  # Alipay's notify rule: neither sign nor sign_type is signed
    content = signature_utils.get_sign_content(signed)
    assert signature_utils.verify_with_rsa(sdk_public_key(alipay_key.public_key()), content.encode(), sign)
