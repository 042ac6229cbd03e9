"""Payee accounts: which Alipay accounts need a payee name, which are mobile numbers, and
masking for logs and views."""

from __future__ import annotations

import re

# An Alipay user id (2088 + 12 digits) needs no payee name; a logon id (e-mail, phone) does.
_ALIPAY_USER_ID = re.compile(r"^2088[0-9]{12}$")


def is_alipay_user_id(account: str) -> bool:
    return _ALIPAY_USER_ID.fullmatch(account) is not None


def mask_account(value: str) -> str:
    """A payee account for logs and views: enough to recognise, too little to use.

    6222021234567890123 -> 6222***********0123; alice@example.com -> a****@example.com.
    """
    local, at, domain = value.partition("@")
    if at:
        return (local[:1] + "*" * max(len(local) - 1, 1)) + "@" + domain
    if len(value) > 8:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    return "*" * max(len(value) - 2, 1) + value[-2:] if len(value) > 2 else "*" * len(value)


# A mainland China mobile number, as an Alipay logon id or a phone given for the SMS.
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9][0-9]{9}$")


def is_mobile_number(value: str) -> bool:
    return _MOBILE.fullmatch(value) is not None
