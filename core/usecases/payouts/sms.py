"""The SMS a payout's application asked for (the seed's `sms`, 是否发送短信): the payee is texted
once the payout is durably paid (the listener hands `paid` to its unit of work's `after_commit`),
at most once. A failing sender never fails the payout: it is logged and counted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.payouts.model import Payout
from core.payouts.payees import is_mobile_number, mask_account
from ports.notify import SmsMessage, SmsSender

log = logging.getLogger("paygate.payouts.sms")

SMS_TIMEOUT_SECONDS = 2.0


def payout_sms_text(payout: Payout) -> str:
    a = payout.application
    return f"您的款项 {a.amount} 元已支付 (order {a.order_serial_no})。"


def sms_phone_of(payout: Payout) -> str | None:
    """The phone given for the SMS, else the payee account when it is a mobile number."""
    a = payout.application
    if a.sms_phone is not None:
        return a.sms_phone
    return a.payee_account if is_mobile_number(a.payee_account) else None


class PayeeTexts:
    """Texts the payee of a paid payout whose application asked for it; `counted(result)` is
    told `sent`, `failed` or `no_phone` (the gateway's metrics)."""

    def __init__(
        self,
        sender: SmsSender,
        *,
        counted: Callable[[str], None] = lambda result: None,
        timeout: float = SMS_TIMEOUT_SECONDS,
    ) -> None:
        self.sender = sender
        self.counted = counted
        self.timeout = timeout

    async def paid(self, payout: Payout) -> None:
        if not payout.application.send_sms:
            return
        phone = sms_phone_of(payout)
        if phone is None:
            log.warning("payout asked for an SMS but names no mobile number", extra={"payout_id": payout.id})
            self.counted("no_phone")
            return
        message = SmsMessage(phone, payout_sms_text(payout), payout.id)
        try:
            await asyncio.wait_for(self.sender.send(message), self.timeout)
        except Exception:  # any failure of the sender: the payout is paid all the same
            log.warning(
                "payout SMS not sent",
                exc_info=True,
                extra={"payout_id": payout.id, "phone": mask_account(phone)},
            )
            self.counted("failed")
            return
        self.counted("sent")
