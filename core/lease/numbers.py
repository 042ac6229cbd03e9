"""Numbers a lease order gives the channel: the external agreement number of each withholding
signing, and the out_request_no of each deduction attempt."""

from __future__ import annotations

import re

_EXTERNAL_PREFIX = "LSE"


def external_agreement_no(order_id: str, attempt: int) -> str:
    """The merchant's agreement number (external_agreement_no: letters and digits, at most 32)
    of the order's `attempt`-th withholding signing: LSE + the order id's hex + 2 digits."""
    if not 1 <= attempt <= 99:
        raise ValueError("withholding signing attempts run from 1 to 99")
    prefix, _, body = order_id.partition("_")
    if prefix != "lse" or not re.fullmatch(r"[0-9a-f]{27}", body):
        raise ValueError(f"{order_id!r} is not a lease order id")
    return f"{_EXTERNAL_PREFIX}{body.upper()}{attempt:02d}"


def order_of_external_agreement_no(number: str) -> tuple[str, int] | None:
    """(order id, attempt) of an external agreement number, or None for a foreign number."""
    match = re.fullmatch(rf"{_EXTERNAL_PREFIX}([0-9A-F]{{27}})([0-9]{{2}})", number)
    if match is None:
        return None
    return f"lse_{match.group(1).lower()}", int(match.group(2))


def attempt_request_no(order_id: str, period_no: int, attempt: int) -> str:
    """The out_request_no of a deduction attempt: fixed by (order, period, attempt), so however
    often it is submitted it is one payment (one out_trade_no at Alipay); '/' keeps callers'
    numbers out of this space."""
    return f"lease/{order_id}/{period_no}/{attempt}"
