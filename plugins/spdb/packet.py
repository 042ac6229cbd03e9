"""Bank-enterprise packets of SPDB's front machine: GBK XML framed by a six-character length."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from xml.sax.saxutils import escape

from plugins.spdb.errors import MalformedPacket, PacketError

# The packets declare GB2312 but GBK (its superset) is what both sides really encode: names
# with characters outside GB2312 (e.g. 镕) travel fine, as in the bank's own Java samples.
ENCODING = "gbk"
DECLARED_ENCODING = "GB2312"
SUCCESS = "AAAAAAA"
SYSTEM_ERROR = "EGG0042"
SIGNATURE_ERROR = "EYY9994"
BANK_AUTH_MISMATCH = "B2E0005"
# The 8801 error codes that are definite refusals: the bank says it did not take the payment
# in. Any other error code on an 8801 answer is an unknown outcome, resolved by 8804 (the
# README's "Definite refusals"). Add a code only with the bank's documentation of it.
DEFINITE_REFUSALS: frozenset[str] = frozenset({BANK_AUTH_MISMATCH, SIGNATURE_ERROR})
SIGNED = "1"
UNSIGNED = "0"
LENGTH_PREFIX_SIZE = 6
MAX_PACKET_BYTES = 999_999
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y%m%d"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

Clock = Callable[[], datetime]

_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_WHITESPACE = re.compile(r"\s+")


class TransCode(StrEnum):
    SINGLE_PAYMENT = "8801"
    PAYMENT_QUERY = "8804"


def beijing_now() -> datetime:
    return datetime.now(BEIJING)


def to_beijing(moment: datetime) -> datetime:
    """The bank works in Beijing time; a naive datetime is taken to be Beijing time already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=BEIJING)
    return moment.astimezone(BEIJING)


def format_timestamp(moment: datetime) -> str:
    return to_beijing(moment).strftime(TIMESTAMP_FORMAT)


def encode(text: str) -> bytes:
    try:
        return text.encode(ENCODING)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise PacketError(f"text cannot be encoded in {ENCODING}: {bad!r}") from exc


def _element(tag: str, value: str) -> str:
    if not _TAG.match(tag):
        raise PacketError(f"{tag!r} is not a valid element name")
    if _XML_ILLEGAL.search(value):
        raise PacketError(f"{tag} holds characters that XML cannot carry")
    return f"<{tag}>{escape(value)}</{tag}>"


# -- business bodies -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Body:
    """A business `<body>`: its flat fields, and the rows of its `<lists><list>` if any."""

    fields: Mapping[str, str]
    rows: tuple[Mapping[str, str], ...] = ()
    lists_name: str | None = None

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


def build_body(
    fields: Iterable[tuple[str, str]],
    rows: Sequence[Iterable[tuple[str, str]]] = (),
    *,
    lists_name: str = "LoopResult",
) -> str:
    """`<body>` with the fields in the given order (the bank's samples keep the documented
    order), then the rows as `<lists name=…><list>…</list></lists>` when there are any."""
    parts = ["<body>"]
    parts.extend(_element(tag, value) for tag, value in fields)
    if rows:
        if not _TAG.match(lists_name):
            raise PacketError(f"{lists_name!r} is not a valid lists name")
        parts.append(f'<lists name="{lists_name}">')
        for row in rows:
            parts.append("<list>" + "".join(_element(tag, value) for tag, value in row) + "</list>")
        parts.append("</lists>")
    parts.append("</body>")
    return "".join(parts)


def parse_body(data: str | bytes) -> Body:
    """Parse a plaintext business body (what the signing server returns in `<sic>`)."""
    root = _parse_xml(data, "body")
    fields: dict[str, str] = {}
    rows: list[Mapping[str, str]] = []
    lists_name: str | None = None
    for child in root:
        if child.tag == "lists":
            lists_name = child.get("name")
            rows.extend(_leaves(item) for item in child if item.tag == "list")
        elif len(child) == 0:
            fields[child.tag] = (child.text or "").strip()
    return Body(fields, tuple(rows), lists_name)


def _leaves(element: ET.Element) -> dict[str, str]:
    return {child.tag: (child.text or "").strip() for child in element if len(child) == 0}


# -- request packets -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestHead:
    trans_code: str
    master_id: str
    packet_id: str
    timestamp: datetime
    sign_flag: str = SIGNED


@dataclass(frozen=True, slots=True)
class RequestPacket:
    head: RequestHead
    signature: str


def build_request(head: RequestHead, signature: str) -> bytes:
    """The request packet as sent to the front machine, length prefix included.

    The prefix is the byte length of the whole packet, the six prefix bytes included, zero
    padded to six digits (`003499<?xml …`), as in the public clients that talk to SPDB.
    """
    signature = _WHITESPACE.sub("", signature)
    if not _BASE64.match(signature):
        raise PacketError("signature must be base64 text")
    head_xml = "".join(
        [
            _element("transCode", head.trans_code),
            _element("signFlag", head.sign_flag),
            _element("masterID", head.master_id),
            _element("packetID", head.packet_id),
            _element("timeStamp", format_timestamp(head.timestamp)),
        ]
    )
    xml = (
        f'<?xml version="1.0" encoding="{DECLARED_ENCODING}"?>'
        f"<packet><head>{head_xml}</head><body><signature>{signature}</signature></body></packet>"
    )
    return _frame(encode(xml), zero_padded=True)


def parse_request(raw: bytes) -> RequestPacket:
    """Parse a request packet (the sandbox front machine's side); the prefix must be exact."""
    root = _unframe(raw, exact=True)
    head = _required(root, "head")
    trans_code = _text(head, "transCode")
    master_id = _text(head, "masterID")
    packet_id = _text(head, "packetID")
    stamp = _text(head, "timeStamp")
    if not (trans_code and master_id and packet_id):
        raise MalformedPacket("request head lacks transCode, masterID or packetID")
    try:
        timestamp = datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=BEIJING)
    except ValueError as exc:
        raise MalformedPacket(f"request timeStamp {stamp!r} is not yyyy-MM-dd HH:mm:ss") from exc
    body = root.find("body")
    signature = _WHITESPACE.sub("", body.findtext("signature") or "") if body is not None else ""
    if not signature:
        raise MalformedPacket("request body carries no signature")
    sign_flag = _text(head, "signFlag") or SIGNED
    head_fields = RequestHead(trans_code, master_id, packet_id, timestamp, sign_flag)
    return RequestPacket(head_fields, signature)


# -- answer packets ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerHead:
    trans_code: str
    packet_id: str
    timestamp: str
    return_code: str
    return_msg: str = ""
    sign_flag: str = SIGNED


@dataclass(frozen=True, slots=True)
class AnswerPacket:
    """A front machine answer. A success (`AAAAAAA`) carries its body only inside `signature`
    (base64 PKCS#7, to be verified through the signing server); an error answer carries an
    unsigned body whose fields (`returnCode`, `returnMsg`) are in `fields`."""

    head: AnswerHead
    signature: str | None
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.head.return_code == SUCCESS

    @property
    def return_code(self) -> str:
        return self.head.return_code

    @property
    def return_msg(self) -> str:
        return self.head.return_msg or self.fields.get("returnMsg", "")


def build_answer(
    head: AnswerHead, *, signature: str | None = None, fields: Iterable[tuple[str, str]] = ()
) -> bytes:
    """An answer packet as the front machine sends it: lowercase declaration and the length
    prefix padded with spaces on the right (`4177  <?xml …`)."""
    head_parts = [
        _element("transCode", head.trans_code),
        _element("signFlag", head.sign_flag),
        _element("packetID", head.packet_id),
        _element("timeStamp", head.timestamp),
        _element("returnCode", head.return_code),
    ]
    if head.return_msg:
        head_parts.append(_element("returnMsg", head.return_msg))
    body_parts = [_element(tag, value) for tag, value in fields]
    if signature is not None:
        body_parts.append(f"<signature>{signature}</signature>")
    xml = (
        f'<?xml version="1.0" encoding="{DECLARED_ENCODING.lower()}"?>'
        f"<packet><head>{''.join(head_parts)}</head><body>{''.join(body_parts)}</body></packet>"
    )
    return _frame(encode(xml), zero_padded=False)


def parse_answer(raw: bytes) -> AnswerPacket:
    """Parse a front machine answer; anything that is not a well-formed answer raises
    `MalformedPacket` (never another exception)."""
    root = _unframe(raw, exact=False)
    head = _required(root, "head")
    body = root.find("body")
    fields: dict[str, str] = {}
    signature: str | None = None
    if body is not None:
        for child in body:
            if child.tag == "signature":
                signature = _WHITESPACE.sub("", child.text or "") or None
            elif len(child) == 0:
                fields[child.tag] = (child.text or "").strip()
    return_code = _text(head, "returnCode") or fields.get("returnCode", "")
    if not return_code:
        raise MalformedPacket("answer carries no returnCode")
    answer_head = AnswerHead(
        trans_code=_text(head, "transCode"),
        packet_id=_text(head, "packetID"),
        timestamp=_text(head, "timeStamp"),
        return_code=return_code,
        return_msg=_text(head, "returnMsg"),
        sign_flag=_text(head, "signFlag"),
    )
    return AnswerPacket(answer_head, signature, fields)


# -- framing and XML -----------------------------------------------------------------------


def _frame(xml: bytes, *, zero_padded: bool) -> bytes:
    total = len(xml) + LENGTH_PREFIX_SIZE
    if total > MAX_PACKET_BYTES:
        raise PacketError(f"packet of {total} bytes does not fit a six-digit length prefix")
    prefix = f"{total:06d}" if zero_padded else f"{total:<6d}"
    return prefix.encode("ascii") + xml


def _unframe(raw: bytes, *, exact: bool) -> ET.Element:
    if not isinstance(raw, bytes | bytearray):
        raise MalformedPacket("a packet is bytes")
    if len(raw) <= LENGTH_PREFIX_SIZE:
        raise MalformedPacket(f"{len(raw)} bytes is too short for a packet")
    prefix = bytes(raw[:LENGTH_PREFIX_SIZE])
    digits = prefix.strip(b" ")
    if not digits or not all(0x30 <= byte <= 0x39 for byte in digits):
        raise MalformedPacket(f"length prefix {prefix!r} is not a number")
    declared = int(digits)
    if exact:
        fits = declared == len(raw)
    else:
        # The bank's answers were not seen to say whether their length counts the prefix, or
        # whether a trailing newline may follow: accept either reading, nothing looser.
        trimmed = len(bytes(raw).rstrip(b" \r\n\t"))
        fits = declared in {len(raw), len(raw) - LENGTH_PREFIX_SIZE, trimmed, trimmed - LENGTH_PREFIX_SIZE}
    if not fits:
        raise MalformedPacket(f"length prefix says {declared} bytes, packet has {len(raw)}")
    return _parse_xml(bytes(raw[LENGTH_PREFIX_SIZE:]), "packet")


def _parse_xml(data: str | bytes, root_tag: str) -> ET.Element:
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode(ENCODING)
        except UnicodeDecodeError as exc:
            raise MalformedPacket(f"not {ENCODING} text: {exc.reason}") from exc
    else:
        text = data
    if "<!" in text.upper().replace("<![CDATA[", ""):
        # No DTDs, entities or comments come from the bank; refusing them rules out entity
        # expansion attacks without a hardened parser.
        raise MalformedPacket("DTDs, entities and comments are not accepted")
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith("<?xml"):
        end = text.find("?>")
        if end < 0:
            raise MalformedPacket("unterminated XML declaration")
        text = text[end + 2 :]
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError) as exc:
        raise MalformedPacket(f"not well-formed XML: {exc}") from exc
    if root.tag != root_tag:
        raise MalformedPacket(f"root element is <{root.tag}>, expected <{root_tag}>")
    return root


def _required(root: ET.Element, tag: str) -> ET.Element:
    element = root.find(tag)
    if element is None:
        raise MalformedPacket(f"packet has no <{tag}>")
    return element


def _text(element: ET.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


# -- packet ids ----------------------------------------------------------------------------


class PacketIdGenerator:
    """Packet ids unique within the bank's day (the bank requires `packetID` unique per day).

    An id is 16 digits, the length of the public samples: the Beijing date `yyyyMMdd`, then an
    8-digit tick made of the seconds since Beijing midnight (5 digits) and a 3-digit sequence.
    Within one generator the tick strictly increases during a day, so ids never repeat even
    when the clock stands still or steps back, or when more than a thousand ids are asked for
    in one second: the generator then keeps counting from its last tick. For each new second
    the sequence starts at a random value below 500, so two processes minting ids in the same
    second collide only when their sequences meet. A collision costs no money: the bank
    refuses the duplicate packet and the payment is resent under a new id with the same
    `elecChequeNo` (the idempotency key). Keep one generator per process, and let storage hold
    (day, packet id) unique as the final guard.
    """

    _SEQUENCE = 1_000
    _LAST_TICK = 86_400 * _SEQUENCE

    def __init__(self, clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self._clock = clock or beijing_now
        self._rng = rng or random.SystemRandom()
        self._day = ""
        self._last = -1

    def __call__(self) -> str:
        now = to_beijing(self._clock())
        day = now.strftime(DATE_FORMAT)
        if day != self._day:
            self._day, self._last = day, -1
        seconds = now.hour * 3600 + now.minute * 60 + now.second
        tick = max(seconds * self._SEQUENCE + self._rng.randrange(500), self._last + 1)
        if tick >= self._LAST_TICK:
            raise PacketError("no packet ids left for today")
        self._last = tick
        return f"{day}{tick:08d}"
