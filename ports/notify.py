"""The notification port: text messages (SMS) the platform sends to people, e.g. a paid payee."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """One text: to whom, what it says, and what it is about (e.g. a payout id) for the logs."""

    phone: str
    text: str
    reference: str


class SmsSender(Protocol):
    """Sends one SMS. Raises when it could not; the caller logs and counts that, and never fails
    the work the SMS is about."""

    async def send(self, message: SmsMessage) -> None: ...
