"""Asynchronous notifications: verified over URL-decoded fields, forged ones refused."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from plugins.alipay_openapi.errors import NotifyVerificationError
from plugins.alipay_openapi.notify import (
    notify_sign_content,
    parse_notify_form,
    sign_notification,
    verify_notification,
    verify_notify_body,
)
from plugins.alipay_openapi.signing import PrivateKey, sign_content

APP_ID = "2021000000000042"


def _message_fields() -> dict[str, str]:
    biz = {"out_biz_no": "P-1", "status": "SUCCESS", "fail_reason": "", "note": "a&b=c 张三+"}
    return {
        "app_id": APP_ID,
        "charset": "utf-8",
        "msg_method": "alipay.fund.trans.order.changed",
        "notify_id": "n-1",
        "utc_timestamp": "1700000000000",
        "version": "1.1",
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        "empty_field": "",
    }


def test_signed_form_body_verifies_with_url_decoded_values(alipay_key: PrivateKey) -> None:
    body = urlencode(sign_notification(_message_fields(), alipay_key)).encode()

    verified = verify_notify_body(body, alipay_key.public_key(), expected_app_id=APP_ID)

    assert verified.msg_method == "alipay.fund.trans.order.changed"
    assert verified.biz_content is not None
    assert verified.biz_content["note"] == "a&b=c 张三+"
    assert "sign" not in verified.fields


def test_sign_covers_neither_sign_nor_sign_type_nor_empty_values() -> None:
    fields = {"b": "2", "a": "1 +", "sign": "s", "sign_type": "RSA2", "c": ""}

    assert notify_sign_content(fields) == "a=1 +&b=2"


def test_a_notification_signed_as_alipay_does_verifies(alipay_key: PrivateKey) -> None:
    fields = {
        "notify_type": "trade_status_sync",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "9.90",
        "app_id": APP_ID,
    }
    fields["sign"] = sign_content(
        "app_id=" + APP_ID + "&notify_type=trade_status_sync&total_amount=9.90&trade_status=TRADE_SUCCESS",
        alipay_key,
    )
    fields["sign_type"] = "RSA2"

    assert verify_notification(fields, alipay_key.public_key()).notify_type == "trade_status_sync"


def test_forged_field_value_is_refused(alipay_key: PrivateKey) -> None:
    fields = sign_notification(_message_fields(), alipay_key)
    fields["biz_content"] = fields["biz_content"].replace("P-1", "P-2")

    with pytest.raises(NotifyVerificationError, match="signature"):
        verify_notification(fields, alipay_key.public_key())


def test_notification_signed_by_a_stranger_is_refused(
    alipay_key: PrivateKey, stranger_key: PrivateKey
) -> None:
    fields = sign_notification(_message_fields(), stranger_key)

    with pytest.raises(NotifyVerificationError):
        verify_notification(fields, alipay_key.public_key())


def test_unsigned_notification_is_refused(alipay_key: PrivateKey) -> None:
    with pytest.raises(NotifyVerificationError, match="no signature"):
        verify_notification(_message_fields(), alipay_key.public_key())


def test_other_sign_types_are_refused(alipay_key: PrivateKey) -> None:
    fields = sign_notification(_message_fields(), alipay_key)
    fields["sign_type"] = "RSA"

    with pytest.raises(NotifyVerificationError, match="sign_type"):
        verify_notification(fields, alipay_key.public_key())


def test_another_apps_notification_is_refused(alipay_key: PrivateKey) -> None:
    fields = sign_notification(_message_fields(), alipay_key)

    with pytest.raises(NotifyVerificationError, match="app_id"):
        verify_notification(fields, alipay_key.public_key(), expected_app_id="2021999")


def test_repeated_form_fields_are_refused() -> None:
    with pytest.raises(NotifyVerificationError, match="twice"):
        parse_notify_form(b"a=1&a=2")


def test_form_is_decoded_in_the_charset_it_declares(alipay_key: PrivateKey) -> None:
    fields = {"charset": "GBK", "app_id": APP_ID, "subject": "退款"}
    body = urlencode(sign_notification(fields, alipay_key), encoding="gbk").encode()

    verified = verify_notify_body(body, alipay_key.public_key())

    assert verified.get("subject") == "退款"


def test_biz_content_that_is_not_json_is_refused(alipay_key: PrivateKey) -> None:
    fields = sign_notification({"app_id": APP_ID, "biz_content": "{oops"}, alipay_key)

    with pytest.raises(NotifyVerificationError, match="JSON"):
        verify_notification(fields, alipay_key.public_key())
