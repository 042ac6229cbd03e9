"""The default SMS sender: it sends nothing and logs each text with its phone number masked.
A deployment with an SMS gateway provides its own `ports.notify.SmsSender`."""

from __future__ import annotations

import logging

from core.payouts.payees import mask_account
from ports.notify import SmsMessage

log = logging.getLogger("paygate.sms")


class LogSmsSender:
    async def send(self, message: SmsMessage) -> None:
        log.info(
            "SMS (log only)",
            extra={
                "phone": mask_account(message.phone),
                "reference": message.reference,
                "text": message.text,
            },
        )
