"""Async client of SPDB's front machine: single payment 8801 and payment result query 8804."""

from __future__ import annotations

import logging

import aiohttp

from core.errors import InvalidArgument
from plugins.spdb.errors import (
    CONNECT_FAILED,
    INVALID_PAYEE,
    INVALID_REQUEST,
    PACKET_ERROR,
    SIGNING_FAILED,
    BadSignature,
    BankSystemError,
    CallTimedOut,
    MalformedAnswer,
    MalformedPacket,
    NotSent,
    PacketError,
    QueryRejected,
    SignatureRejected,
    SigningServerError,
    TransportFailed,
    UnlistedRefusal,
    UnsignedAnswer,
    VerificationUnavailable,
)
from plugins.spdb.exchange import Exchange
from plugins.spdb.messages import (
    CENT,
    FRONT_MACHINE_CONTENT_TYPE,
    AnswerStatus,
    PaymentAnswer,
    PaymentQuery,
    QueryAnswer,
    SinglePayment,
    payment_result,
    validate_payment,
)
from plugins.spdb.packet import (
    DATE_FORMAT,
    DEFINITE_REFUSALS,
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

log = logging.getLogger(__name__)

# the fields of `validate_payment` that are the payee's
PAYEE_FIELDS = frozenset({"payee", "payee_bank_no"})


class SpdbClient:
    """Signs through the signing server, posts to the front machine, verifies the answer.

    Every HTTP call has `settings.timeout_seconds`. Outcomes that must not be read as success
    or failure raise `OutcomeUnknown` subclasses carrying the `Exchange`. A request that never
    reached the front machine raises `NotSent` with a stable code: a payment the checks refuse,
    a body that cannot be built or signed (the signing server is local: its failure before
    sending means nothing reached the bank), or a connection that could not be opened.
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
        self._signer = SigningServerClient(session, settings.signing_server_url, settings.timeout_seconds)

    async def pay_8801(self, payment: SinglePayment) -> PaymentAnswer:
        """Send one payment (8801). Idempotent at the bank on `elec_cheque_no`. REJECTED only for
        a code of `DEFINITE_REFUSALS`; any other error code raises `UnlistedRefusal` (unknown)."""
        try:
            fields = self._payment_fields(payment)
        except InvalidArgument as exc:
            code = INVALID_PAYEE if exc.field in PAYEE_FIELDS else INVALID_REQUEST
            raise NotSent(code, exc.message) from exc
        answer, body, exchange = await self._call(TransCode.SINGLE_PAYMENT, fields, payment.elec_cheque_no)
        if body is None:
            if answer.return_code not in DEFINITE_REFUSALS:
                raise UnlistedRefusal(
                    f"8801 answered {answer.return_code} {answer.return_msg}, not a definite refusal",
                    exchange,
                    answer.return_code,
                    answer.return_msg,
                )
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
            results = tuple(payment_result(row) for row in body.rows)
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
        now = to_beijing(self._clock())
        try:
            plaintext = build_body(fields)
            signature = await self._signer.sign(plaintext)
            head = RequestHead(str(trans_code), self._settings.master_id, self._packet_ids(), now)
            packet = build_request(head, signature)
        except PacketError as exc:
            raise NotSent(PACKET_ERROR, f"{trans_code} packet not built: {exc}") from exc
        except SigningServerError as exc:
            raise NotSent(SIGNING_FAILED, f"{trans_code} not signed: {exc}") from exc
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
            raise VerificationUnavailable(f"{trans_code} answer not verified: {exc}", exchange) from exc
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
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            # no connection was opened (refused, no route, DNS, TLS handshake): not a byte of
            # the packet left; any later failure may come after the bank read it
            raise NotSent(CONNECT_FAILED, f"front machine not reached: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise TransportFailed(f"front machine exchange failed: {exc}", exchange) from exc
        exchange = exchange.answered(status, raw)
        if status != 200:
            raise TransportFailed(f"front machine answered HTTP {status}", exchange)
        return exchange

    # -- the 8801 body -----------------------------------------------------------------------

    def _payment_fields(self, payment: SinglePayment) -> list[tuple[str, str]]:
        validate_payment(payment)
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
