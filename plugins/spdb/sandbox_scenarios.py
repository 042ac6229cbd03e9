"""The SPDB sandbox's scenarios (chosen by the payee account), its configuration, its stand-in
certificates, the payments it holds, and the small checks of the packets it reads."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from plugins.spdb.packet import (
    DATE_FORMAT,
)
from plugins.spdb.pkcs7 import SignerIdentity


class Scenario(StrEnum):
    SUCCEED = "succeed"
    PROCESSING_THEN_SUCCEED = "processing_then_succeed"
    REJECT = "reject"
    REFUSE = "refuse"
    REVOKE = "revoke"
    UNKNOWN_STATUS = "unknown_status"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    SYSTEM_ERROR = "system_error"
    UNLISTED_CODE = "unlisted_code"


# The last four characters of the payee account number choose the scenario; any other
# account succeeds on the first 8804. The README's table says what each one does.
SCENARIOS_BY_SUFFIX: Mapping[str, Scenario] = {
    "1001": Scenario.PROCESSING_THEN_SUCCEED,
    "2002": Scenario.REJECT,
    "3003": Scenario.REFUSE,
    "4004": Scenario.REVOKE,
    "5005": Scenario.TIMEOUT,
    "6006": Scenario.MALFORMED,
    "7007": Scenario.UNSIGNED,
    "7008": Scenario.BAD_SIGNATURE,
    "9042": Scenario.SYSTEM_ERROR,
    "8008": Scenario.UNLISTED_CODE,
    "0007": Scenario.UNKNOWN_STATUS,
}


def scenario_for(payee_acct_no: str) -> Scenario:
    return SCENARIOS_BY_SUFFIX.get(payee_acct_no.strip()[-4:], Scenario.SUCCEED)


DEFAULT_PROCESSING_POLLS = 2
DEFAULT_DELAY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    # PROCESSING_THEN_SUCCEED: how many 8804 answers say "processing" before the success.
    processing_polls: int = DEFAULT_PROCESSING_POLLS
    # TIMEOUT: how long the 8801 answer is held back (the payment is taken in at once).
    delay_seconds: float = DEFAULT_DELAY_SECONDS
    # a slow bank: every 8801 answer comes this late (the payment is taken in at once)
    answer_delay_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class SandboxIdentities:
    """Self-made stand-ins for the CFCA certificates: the enterprise's (signing server), the
    bank's (front machine answers) and a rogue one that nobody trusts (bad signatures)."""

    enterprise: SignerIdentity
    bank: SignerIdentity
    rogue: SignerIdentity

    @classmethod
    def generate(cls) -> SandboxIdentities:
        return cls(
            SignerIdentity.self_signed("SPDB sandbox enterprise"),
            SignerIdentity.self_signed("SPDB sandbox bank"),
            SignerIdentity.self_signed("SPDB sandbox rogue"),
        )


@dataclass(slots=True)
class SandboxPayment:
    fields: dict[str, str]
    scenario: Scenario
    accept_no: str
    seq_no: str
    trans_date: str
    polls: int = 0

    @property
    def elec_cheque_no(self) -> str:
        return self.fields["elecChequeNo"]


def broken_answer(trans_code: str, packet_id: str) -> bytes:
    """A correctly framed answer whose XML stops half-way, as a front machine crash leaves it."""
    xml = (
        '<?xml version="1.0" encoding="gb2312"?><packet><head>'
        f"<transCode>{trans_code}</transCode><packetID>{packet_id}</packetID>"
        "<returnCode>AAAAAAA</returnCode></head><body><signature>MIIJKgYJKoZIhvcNAQcCoIIJ"
    ).encode("gbk")
    return f"{len(xml) + 6:<6d}".encode("ascii") + xml


def amount_ok(raw: str) -> bool:
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return False
    return amount.is_finite() and amount > 0 and amount == amount.quantize(Decimal("0.01"))


def checked_date(raw: str) -> str:
    """A yyyyMMdd date, checked; ValueError otherwise."""
    return datetime.strptime(raw, DATE_FORMAT).strftime(DATE_FORMAT)


SPDB_BANK_CODE = "310"  # the first three digits of every SPDB branch's CNAPS number
_CNAPS = re.compile(r"^[0-9]{12}$")


def payee_bank_refused(fields: Mapping[str, str]) -> bool:
    """Whether the payee bank fields disagree, as the bank would refuse them: flags other than
    0/1, a payeeBankNo that is not a CNAPS number, another bank (sysFlag 1) without its CNAPS
    number or with an SPDB one, or the bank itself (sysFlag 0) with another bank's number."""
    sys_flag, remit = fields.get("sysFlag", ""), fields.get("remitLocation", "")
    bank_no = fields.get("payeeBankNo", "")
    if sys_flag not in ("0", "1") or remit not in ("0", "1"):
        return True
    if bank_no and not _CNAPS.match(bank_no):
        return True
    if sys_flag == "1":
        return not bank_no or bank_no.startswith(SPDB_BANK_CODE)
    return bool(bank_no) and not bank_no.startswith(SPDB_BANK_CODE)


async def first_of(*events: asyncio.Event) -> None:
    """Wait until one of `events` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
