"""What one call to the bank leaves behind: the raw packets and their masked copies for logs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

# Any element whose name ends in "acctNo" (acctNo, payeeAcctNo, payerAcctNo, ...) or is a card
# number holds an account number; its text is masked wherever packets are logged or stored.
_ACCOUNT_ELEMENT = re.compile(r"<(?P<tag>[A-Za-z]*[Aa]cct[Nn]o|cardNo)>(?P<value>[^<]*)</(?P=tag)>")
_SIGNATURE_ELEMENT = re.compile(r"<signature>(?P<value>.*?)</signature>", re.DOTALL)
_CHARSET = "gbk"


def mask_account(account_no: str) -> str:
    """Keep the first four and the last four characters of an account number, star the rest.

    Shorter numbers keep at most their last four characters so no short number survives whole.
    """
    value = account_no.strip()
    if len(value) > 8:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    if len(value) > 4:
        return "*" * (len(value) - 4) + value[-4:]
    return "*" * len(value)


def mask_text(text: str) -> str:
    """Mask the account numbers inside every account element of a packet or body text."""

    def masked(match: re.Match[str]) -> str:
        tag = match.group("tag")
        return f"<{tag}>{mask_account(match.group('value'))}</{tag}>"

    return _ACCOUNT_ELEMENT.sub(masked, text)


def _signature_marker(signature: str) -> str:
    digest = hashlib.sha256(signature.encode("ascii", "replace")).hexdigest()[:16]
    return f"[PKCS#7 {len(signature)} chars sha256:{digest}]"


def loggable_packet(packet: bytes, plaintext: str | None) -> str:
    """The packet as text for a log: signature content swapped for the masked plaintext it
    carries (or a marker when the plaintext is not known), account numbers masked.

    The signature is base64 of a SignedData that embeds the body in clear, so it is never
    logged as is: decoding it would reveal the unmasked account numbers.
    """
    text = packet.decode(_CHARSET, errors="replace")

    def swapped(match: re.Match[str]) -> str:
        inner = plaintext if plaintext is not None else _signature_marker(match.group("value"))
        return f"<signature>{inner}</signature>"

    return mask_text(_SIGNATURE_ELEMENT.sub(swapped, text))


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request to the front machine and what came back.

    `request_packet`/`response_packet` are the exact bytes on the wire and `request_body`/
    `response_body` the plaintext business bodies: keep them for re-verification only, never
    log them. What goes to logs and log tables (bank_req_source, bank_res_parsing_source,
    bank_res_error) is `request_log`/`response_log`, with account numbers masked.
    """

    trans_code: str
    packet_id: str
    elec_cheque_no: str | None
    sent_at: datetime
    request_body: str = field(repr=False)
    request_packet: bytes = field(repr=False)
    http_status: int | None = None
    response_packet: bytes | None = field(default=None, repr=False)
    response_body: str | None = field(default=None, repr=False)

    def answered(self, http_status: int, packet: bytes) -> Exchange:
        return replace(self, http_status=http_status, response_packet=packet)

    def verified(self, plaintext: str) -> Exchange:
        return replace(self, response_body=plaintext)

    @property
    def request_log(self) -> str:
        return loggable_packet(self.request_packet, self.request_body)

    @property
    def response_log(self) -> str | None:
        if self.response_packet is None:
            return None
        return loggable_packet(self.response_packet, self.response_body)

    def log_record(self) -> dict[str, str | None]:
        """A flat, masked record for the flow log or a bank_* log table."""
        return {
            "trans_code": self.trans_code,
            "packet_id": self.packet_id,
            "elec_cheque_no": self.elec_cheque_no,
            "sent_at": self.sent_at.isoformat(),
            "http_status": None if self.http_status is None else str(self.http_status),
            "request": self.request_log,
            "response": self.response_log,
        }
