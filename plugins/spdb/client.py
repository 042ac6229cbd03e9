"""Async client of SPDB's front machine: single payment 8801 and payment result query 8804."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import aiohttp

from core.errors import InvalidArgument
from plugins.spdb.errors import (
    BadSignature,
    BankSystemError,
    CallTimedOut,
    MalformedAnswer,
    MalformedPacket,
    QueryRejected,
    SignatureRejected,
    SigningServerError,
    TransportFailed,
    UnsignedAnswer,
    VerificationUnavailable,
)
from plugins.spdb.exchange import Exchange, mask_account
from plugins.spdb.packet import (
    DATE_FORMAT,
    SYSTEM_ERROR,
    AnswerPacket,
    Body,
    Clock,
    PacketIdGenerator,
    RequestHead,
    TransCode,
    beijing_now,
    build_body,
    build_request,
    parse_answer,
    parse_body,
    to_beijing,
)
from plugins.spdb.settings import SpdbSettings
from plugins.spdb.signing import SigningServerClient
from ports.channels import ChannelStatus

log = logging.getLogger(__name__)

FRONT_MACHINE_CONTENT_TYPE = "text/xml; charset=GBK"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal(10) ** 13
_VOUCHER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class PayeeType(StrEnum):
    CORPORATE = "0"  # 对公账户
    PERSONAL = "1"  # 个人卡


class SysFlag(StrEnum):
    SAME_BANK = "0"  # 本行
    OTHER_BANK = "1"  # 他行


class RemitLocation(StrEnum):
    SAME_CITY = "0"  # 同城
    OTHER_CITY = "1"  # 异地


class AnswerStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# transStatus of 8804: 0 awaiting completion, 1 awaiting posting, 2 awaiting review, 3 awaiting
# authorisation; 4 done; 8 refused; 9 revoked.
_TRANS_STATUS: Mapping[str, ChannelStatus] = {
    "0": ChannelStatus.PROCESSING,
    "1": ChannelStatus.PROCESSING,
    "2": ChannelStatus.PROCESSING,
    "3": ChannelStatus.PROCESSING,
    "4": ChannelStatus.SUCCEEDED,
    "8": ChannelStatus.FAILED,
    "9": ChannelStatus.FAILED,
}


def trans_status_outcome(code: str) -> ChannelStatus:
    """Map an 8804 `transStatus` to the platform's vocabulary; an unknown code is UNKNOWN."""
    return _TRANS_STATUS.get(code.strip(), ChannelStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class SinglePayment:
    """One 8801 payment from the payer account in the settings.

    `elec_cheque_no` (电子凭证号) is the enterprise's voucher number and the idempotency key:
    resending the same payment must reuse it. `amount` is yuan as a Decimal with at most two
    decimals. `payee_bank_no` (CNAPS 行号) is needed for another bank in another city.
    """

    elec_cheque_no: str
    payee_acct_no: str = field(repr=False)
    payee_name: str
    amount: Decimal
    payee_type: PayeeType = PayeeType.PERSONAL
    sys_flag: SysFlag = SysFlag.SAME_BANK
    remit_location: RemitLocation = RemitLocation.SAME_CITY
    payee_bank_name: str = ""
    payee_address: str = ""
    note: str = ""
    payee_bank_select_flag: str = ""
    payee_bank_no: str = ""
    pay_purpose: str = ""
    bespeak_date: date | None = None

    @property
    def masked_payee_acct_no(self) -> str:
        return mask_account(self.payee_acct_no)


@dataclass(frozen=True, slots=True)
class PaymentAnswer:
    """The front machine's answer to 8801.

    ACCEPTED means the bank took the payment in (an `accept_no`, maybe a `trans_status`): the
    final state comes only from 8804. REJECTED means the bank refused the packet with an error
    `return_code`; nothing was paid.
    """

    status: AnswerStatus
    elec_cheque_no: str
    return_code: str
    return_msg: str
    exchange: Exchange
    accept_no: str | None = None
    trans_status: str | None = None

    @property
    def channel_status(self) -> ChannelStatus:
        """PROCESSING once accepted (poll 8804), FAILED when rejected."""
        if self.status is AnswerStatus.REJECTED:
            return ChannelStatus.FAILED
        return ChannelStatus.PROCESSING


@dataclass(frozen=True, slots=True)
class PaymentQuery:
    """An 8804 query. Dates default to the client's Beijing today; set `begin_date` to the day
    the payment was sent when polling across midnight."""

    elec_cheque_no: str = ""
    accept_no: str = ""
    serial_no: str = ""
    begin_date: date | None = None
    end_date: date | None = None
    query_number: int = 20
    begin_number: int = 1
    single: bool = True


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """One payment in an 8804 answer, with its `transStatus` mapped to `status`."""

    elec_cheque_no: str
    accept_no: str
    serial_no: str
    trans_status: str
    status: ChannelStatus
    amount: Decimal | None
    note: str
    acct_no: str = field(repr=False)
    acct_name: str
    payee_acct_no: str = field(repr=False)
    payee_name: str
    trans_date: str = ""
    bespeak_date: str = ""
    promise_date: str = ""
    sys_flag: str = ""
    remit_location: str = ""
    seq_no: str = ""

    @property
    def refusal_reason(self) -> str | None:
        """Why the bank refused or revoked the payment: it appends the reason to `note`."""
        return (self.note or None) if self.status is ChannelStatus.FAILED else None

    @property
    def masked_payee_acct_no(self) -> str:
        return mask_account(self.payee_acct_no)


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    total_count: int
    results: tuple[PaymentResult, ...]
    exchange: Exchange

    def for_cheque(self, elec_cheque_no: str) -> PaymentResult | None:
        """The result for one voucher number; None when the bank does not list it (yet)."""
        return next((r for r in self.results if r.elec_cheque_no == elec_cheque_no), None)


class SpdbClient:
    """Signs through the signing server, posts to the front machine, verifies the answer.

    Every HTTP call has `settings.timeout_seconds`. Outcomes that must not be read as success
    or failure raise `OutcomeUnknown` subclasses carrying the `Exchange`; a failure of the
    signing server before sending raises `SigningServerError` (nothing reached the bank).
    """

    def __init__(
        self,
        settings: SpdbSettings,
        session: aiohttp.ClientSession,
        *,
        packet_ids: PacketIdGenerator | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._clock = clock or beijing_now
        self._packet_ids = packet_ids or PacketIdGenerator(self._clock)
        self._signer = SigningServerClient(
            session, settings.signing_server_url, settings.timeout_seconds
        )

    async def pay_8801(self, payment: SinglePayment) -> PaymentAnswer:
        """Send one payment (8801). Idempotent at the bank on `elec_cheque_no`."""
        fields = self._payment_fields(payment)
        answer, body, exchange = await self._call(
            TransCode.SINGLE_PAYMENT, fields, payment.elec_cheque_no
        )
        if body is None:
            return PaymentAnswer(
                AnswerStatus.REJECTED,
                payment.elec_cheque_no,
                answer.return_code,
                answer.return_msg,
                exchange,
            )
        echoed = body.get("elecChequeNo")
        if echoed and echoed != payment.elec_cheque_no:
            raise MalformedAnswer(f"8801 answer is for voucher {echoed!r}", exchange)
        return PaymentAnswer(
            AnswerStatus.ACCEPTED,
            payment.elec_cheque_no,
            answer.return_code,
            answer.return_msg,
            exchange,
            accept_no=body.get("acceptNo") or None,
            trans_status=body.get("transStatus") or None,
        )

    async def query_8804(self, query: PaymentQuery) -> QueryAnswer:
        """Ask for payment results (8804); never sends a payment."""
        today = to_beijing(self._clock()).date()
        fields = [
            ("elecChequeNo", query.elec_cheque_no),
            ("acctNo", self._settings.acct_no),
            ("beginDate", (query.begin_date or today).strftime(DATE_FORMAT)),
            ("endDate", (query.end_date or today).strftime(DATE_FORMAT)),
            ("acceptNo", query.accept_no),
            ("serialNo", query.serial_no),
            ("queryNumber", str(query.query_number)),
            ("beginNumber", str(query.begin_number)),
            ("singleOrBatchFlag", "0" if query.single else "1"),
        ]
        answer, body, exchange = await self._call(
            TransCode.PAYMENT_QUERY, fields, query.elec_cheque_no or None
        )
        if body is None:
            raise QueryRejected(
                f"8804 refused: {answer.return_code} {answer.return_msg}",
                exchange,
                answer.return_code,
                answer.return_msg,
            )
        try:
            results = tuple(_payment_result(row) for row in body.rows)
            total = int(body.get("totalCount") or len(results))
        except ValueError as exc:
            raise MalformedAnswer(f"8804 answer: {exc}", exchange) from exc
        return QueryAnswer(total, results, exchange)

    # -- the exchange ------------------------------------------------------------------------

    async def _call(
        self, trans_code: TransCode, fields: list[tuple[str, str]], elec_cheque_no: str | None
    ) -> tuple[AnswerPacket, Body | None, Exchange]:
        """Sign, send, parse and verify. Returns the body only for a verified success answer;
        an error answer comes back with `None`, except `EGG0042`, which raises."""
        plaintext = build_body(fields)
        signature = await self._signer.sign(plaintext)
        now = to_beijing(self._clock())
        head = RequestHead(str(trans_code), self._settings.master_id, self._packet_ids(), now)
        packet = build_request(head, signature)
        exchange = Exchange(str(trans_code), head.packet_id, elec_cheque_no, now, plaintext, packet)
        log.info("spdb %s request %s: %s", trans_code, head.packet_id, exchange.request_log)
        exchange = await self._post(exchange)
        raw = exchange.response_packet or b""
        try:
            answer = parse_answer(raw)
        except MalformedPacket as exc:
            raise MalformedAnswer(f"{trans_code} answer: {exc}", exchange) from exc
        if answer.head.packet_id and answer.head.packet_id != head.packet_id:
            raise MalformedAnswer(f"answer is for packet {answer.head.packet_id!r}", exchange)
        if answer.head.trans_code and answer.head.trans_code != trans_code:
            raise MalformedAnswer(f"answer is for transCode {answer.head.trans_code!r}", exchange)
        if not answer.succeeded:
            log.info("spdb %s answer %s: %s", trans_code, head.packet_id, exchange.response_log)
            if answer.return_code == SYSTEM_ERROR:
                raise BankSystemError(
                    f"bank system error {answer.return_code}: {answer.return_msg}",
                    exchange,
                    answer.return_code,
                    answer.return_msg,
                )
            return answer, None, exchange
        if answer.signature is None:
            raise UnsignedAnswer(f"{trans_code} success answer carries no signature", exchange)
        try:
            verified = await self._signer.verify(answer.signature)
        except SignatureRejected as exc:
            raise BadSignature(f"{trans_code} answer signature refused: {exc}", exchange) from exc
        except SigningServerError as exc:
            raise VerificationUnavailable(
                f"{trans_code} answer not verified: {exc}", exchange
            ) from exc
        exchange = exchange.verified(verified)
        log.info("spdb %s answer %s: %s", trans_code, head.packet_id, exchange.response_log)
        try:
            body = parse_body(verified)
        except MalformedPacket as exc:
            raise MalformedAnswer(f"{trans_code} signed body: {exc}", exchange) from exc
        return answer, body, exchange

    async def _post(self, exchange: Exchange) -> Exchange:
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        try:
            async with self._session.post(
                self._settings.front_machine_url,
                data=exchange.request_packet,
                headers={"Content-Type": FRONT_MACHINE_CONTENT_TYPE},
                timeout=timeout,
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as exc:
            raise CallTimedOut(
                f"front machine gave no answer within {self._settings.timeout_seconds}s", exchange
            ) from exc
        except aiohttp.ClientError as exc:
            raise TransportFailed(f"front machine unreachable: {exc}", exchange) from exc
        exchange = exchange.answered(status, raw)
        if status != 200:
            raise TransportFailed(f"front machine answered HTTP {status}", exchange)
        return exchange

    # -- the 8801 body -----------------------------------------------------------------------

    def _payment_fields(self, payment: SinglePayment) -> list[tuple[str, str]]:
        _validate(payment)
        settings = self._settings
        bespeak = payment.bespeak_date.strftime(DATE_FORMAT) if payment.bespeak_date else ""
        # The order is the one of the bank's samples.
        return [
            ("elecChequeNo", payment.elec_cheque_no),
            ("authMasterID", settings.auth_master_id),
            ("acctNo", settings.acct_no),
            ("acctName", settings.acct_name),
            ("bespeakDate", bespeak),
            ("payeeAcctNo", payment.payee_acct_no.strip()),
            ("payeeName", payment.payee_name.strip()),
            ("payeeType", str(payment.payee_type)),
            ("payeeBankName", payment.payee_bank_name),
            ("payeeAddress", payment.payee_address),
            ("amount", str(payment.amount.quantize(CENT))),
            ("sysFlag", str(payment.sys_flag)),
            ("remitLocation", str(payment.remit_location)),
            ("note", payment.note),
            ("payeeBankSelectFlag", payment.payee_bank_select_flag),
            ("payeeBankNo", payment.payee_bank_no),
            ("payPurpose", payment.pay_purpose),
        ]


def _validate(payment: SinglePayment) -> None:
    if not _VOUCHER.match(payment.elec_cheque_no):
        raise InvalidArgument(
            "elecChequeNo must be 1-32 letters, digits, '-' or '_'", field="elec_cheque_no"
        )
    amount = payment.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidArgument(
            "amount must be a finite Decimal in yuan", field="amount", code="INVALID_AMOUNT"
        )
    exponent = amount.as_tuple().exponent
    if not Decimal(0) < amount < MAX_AMOUNT or not isinstance(exponent, int) or exponent < -2:
        raise InvalidArgument(
            "amount must be positive, below 10^13 yuan, with at most two decimals",
            field="amount",
            code="INVALID_AMOUNT",
        )
    if not payment.payee_acct_no.strip() or not payment.payee_name.strip():
        raise InvalidArgument("payee account number and name are required", field="payee")
    if (
        payment.sys_flag is SysFlag.OTHER_BANK
        and payment.remit_location is RemitLocation.OTHER_CITY
        and not payment.payee_bank_no
    ):
        raise InvalidArgument(
            "another bank in another city needs the payee bank's CNAPS number",
            field="payee_bank_no",
        )


def _payment_result(row: Mapping[str, str]) -> PaymentResult:
    code = row.get("transStatus", "")
    raw_amount = row.get("amount", "")
    amount: Decimal | None = None
    if raw_amount:
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation as exc:
            raise ValueError(f"amount {raw_amount!r} is not a number") from exc
        if not amount.is_finite() or not -MAX_AMOUNT < amount < MAX_AMOUNT:
            raise ValueError(f"amount {raw_amount!r} is not a sane amount")
        amount = amount.quantize(CENT)
    return PaymentResult(
        elec_cheque_no=row.get("elecChequeNo", ""),
        accept_no=row.get("acceptNo", ""),
        serial_no=row.get("serialNo", ""),
        trans_status=code,
        status=trans_status_outcome(code),
        amount=amount,
        note=row.get("note", ""),
        acct_no=row.get("acctNo", ""),
        acct_name=row.get("acctName", ""),
        payee_acct_no=row.get("payeeAcctNo", ""),
        payee_name=row.get("payeeName", ""),
        trans_date=row.get("transDate", ""),
        bespeak_date=row.get("bespeakDate", ""),
        promise_date=row.get("PromiseDate", ""),
        sys_flag=row.get("sysFlag", ""),
        remit_location=row.get("remitLocation", ""),
        seq_no=row.get("seqNo", ""),
    )
