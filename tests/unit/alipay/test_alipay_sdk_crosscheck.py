"""Cross-check against the independent python-alipay-sdk: same key, same params, same bytes."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from plugins.alipay_openapi.envelope import open_envelope
from plugins.alipay_openapi.notify import sign_notification
from plugins.alipay_openapi.sandbox import render_answer
from plugins.alipay_openapi.signing import (
    PrivateKey,
    build_sign_content,
    private_key_pem,
    public_key_pem,
    sign_params,
    verify_params,
)

alipay_sdk = pytest.importorskip("alipay")


def test_signatures_match_python_alipay_sdk_and_verify_each_other(
    app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    sdk = alipay_sdk.AliPay(
        appid="2021000000000042",
        app_private_key_string=private_key_pem(app_key, pkcs1=True),
        # The SDK verifies with "Alipay's" key: give it our app key's public half, so that
        # it can check what we signed.
        alipay_public_key_string=public_key_pem(app_key.public_key()),
        sign_type="RSA2",
    )
    params = {
        "app_id": "2021000000000042",
        "method": "alipay.fund.trans.uni.transfer",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2024-01-01 08:00:05",
        "version": "1.0",
        "biz_content": '{"out_biz_no":"P-1","trans_amount":"12.30","order_title":"退款 a&b"}',
    }

    ours = sign_params(params, app_key)
    signed_by_sdk = dict(parse_qsl(sdk.sign_data(dict(params))))

    assert signed_by_sdk["sign"] == ours  # PKCS#1 v1.5 is deterministic
    assert verify_params(params, signed_by_sdk["sign"], app_key.public_key())
    assert sdk._verify(build_sign_content(params), ours)

    # Notification rules (sign_type left out of the content) agree with the SDK's verify().
    notification = sign_notification(
        {"app_id": "2021000000000042", "notify_id": "n-1", "out_biz_no": "P-1",
         "msg_method": "alipay.fund.trans.order.changed"},
        app_key,
    )
    notify_sign = notification.pop("sign")
    assert sdk.verify(notification, notify_sign)

    # And an answer our sandbox signs is accepted by the SDK's own response check.
    answer_sdk = alipay_sdk.AliPay(
        appid="2021000000000042",
        app_private_key_string=private_key_pem(app_key),
        alipay_public_key_string=public_key_pem(alipay_key.public_key()),
    )
    body = render_answer(
        "alipay_fund_trans_uni_transfer_response",
        {"code": "10000", "msg": "Success", "out_biz_no": "P-1", "status": "SUCCESS"},
        alipay_key,
    )
    by_sdk = answer_sdk._verify_and_return_sync_response(
        body, "alipay_fund_trans_uni_transfer_response"
    )
    ours_payload = open_envelope(body, params["method"], alipay_key.public_key()).payload
    assert by_sdk == ours_payload
