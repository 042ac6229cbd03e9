"""Simulator of SPDB's signing server and front machine, speaking the real packets (one app)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from plugins.sandbox_store.store import SandboxStore
from plugins.spdb.errors import MalformedPacket, SignatureInvalid
from plugins.spdb.packet import (
    DATE_FORMAT,
    SIGNATURE_ERROR,
    SUCCESS,
    SYSTEM_ERROR,
    UNSIGNED,
    AnswerHead,
    Body,
    Clock,
    RequestPacket,
    TransCode,
    beijing_now,
    build_answer,
    build_body,
    encode,
    format_timestamp,
    parse_body,
    parse_request,
    to_beijing,
)
from plugins.spdb.pkcs7 import SignerIdentity, sign_embedded, verify_embedded
from plugins.spdb.sandbox_records import PaymentRecords
from plugins.spdb.sandbox_scenarios import (
    DEFAULT_DELAY_SECONDS,
    DEFAULT_PROCESSING_POLLS,
    SandboxConfig,
    SandboxIdentities,
    SandboxPayment,
    Scenario,
    amount_ok,
    broken_answer,
    checked_date,
    first_of,
    payee_bank_refused,
    scenario_for,
)
from plugins.spdb.settings import SANDBOX_PORT
from plugins.spdb.signing import (
    SIGN_CONTENT_TYPE,
    SIGN_RESULT_CONTENT_TYPE,
    VERIFY_CONTENT_TYPE,
    VERIFY_RESULT_CONTENT_TYPE,
    render_failure,
    render_sign_result,
    render_verify_result,
)

SIGNING_SERVER_PATH = "/signer"
FRONT_MACHINE_PATH = "/front"
PACKET_CONTENT_TYPE = "text/xml; charset=GBK"

# Error codes the bank is known to use, and the sandbox's own (SBX…) for cases whose real
# codes were not found.
E_BANK_AUTH_MISMATCH = ("B2E0005", "网银授权设置不匹配")
E_SYSTEM = (SYSTEM_ERROR, "系统内部错误，请稍后重试")
E_SIGNATURE = (SIGNATURE_ERROR, "签名验证错误")
E_DUPLICATE_VOUCHER = ("SBX0001", "电子凭证号重复且内容不一致（沙箱）")
E_BAD_BODY = ("SBX0002", "报文体不合法（沙箱）")
E_UNSUPPORTED = ("SBX0003", "不支持的交易码（沙箱）")
E_PAYEE_BANK = ("SBX0005", "收款行标志与收款行行号不符（沙箱）")  # e.g. another bank without its CNAPS
# An error code on no list: the payment is taken in all the same, as a real bank might do.
E_UNLISTED = ("SBX0004", "未列明的错误码（沙箱，款项已受理）")

_PROCESSING_CODES = ("0", "2", "3", "1")
_REQUIRED_8801 = ("elecChequeNo", "acctNo", "acctName", "payeeAcctNo", "payeeName", "amount")
_WHITESPACE = re.compile(rb"\s+")


@dataclass(slots=True)
class _Reply:
    """What the front machine says about one request before it is framed."""

    trans_code: str
    packet_id: str
    body: str | None = None
    error: tuple[str, str] | None = None
    fields: Sequence[tuple[str, str]] = field(default_factory=list)


class SpdbSandbox:
    """Both bank services in one aiohttp app: the signing server at `/signer` (sign or verify
    by Content-Type, as the real one) and the front machine at `/front`.

    Payments are kept by `elecChequeNo` in `store` (in memory unless given a file, so a restarted
    simulator still knows them, as the bank would); a repeat with the same content gets the
    first acceptance back, never a second payment.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Clock | None = None,
        identities: SandboxIdentities | None = None,
        store: SandboxStore | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.identities = identities or SandboxIdentities.generate()
        self._clock = clock or beijing_now
        self.records = PaymentRecords(store or SandboxStore())
        self._payments: dict[str, SandboxPayment] = self.records.payments()
        self._counter = self.records.counter()
        self._released = asyncio.Event()
        # when set to an Event, every 8801 answer waits for it (tests hold a slow bank's answer)
        self.answer_gate: asyncio.Event | None = None
        self.answers_held = 0  # 8801 requests taken in whose answer is being held back now

    @property
    def payments(self) -> Mapping[str, SandboxPayment]:
        return self._payments

    def create_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(SIGNING_SERVER_PATH, self._signing_server)
        app.router.add_post(FRONT_MACHINE_PATH, self._front_machine)
        app.on_shutdown.append(self._release_held)
        return app

    async def _release_held(self, _app: web.Application) -> None:
        self._released.set()

    # -- signing server --------------------------------------------------------------------

    async def _signing_server(self, request: web.Request) -> web.Response:
        kind = request.headers.get("Content-Type", "").split(";")[0].strip().upper()
        payload = await request.read()
        if kind == SIGN_CONTENT_TYPE:
            if not payload:
                return _html(render_failure(-1, "没有待签名数据"), SIGN_RESULT_CONTENT_TYPE)
            der = sign_embedded(self.identities.enterprise, payload)
            signature = base64.b64encode(der).decode("ascii")
            return _html(render_sign_result(signature), SIGN_RESULT_CONTENT_TYPE)
        if kind == VERIFY_CONTENT_TYPE:
            trusted = [self.identities.bank.certificate, self.identities.enterprise.certificate]
            try:
                der = base64.b64decode(_WHITESPACE.sub(b"", payload), validate=True)
                verified = verify_embedded(der, trusted)
                plaintext = verified.content.decode("gbk")
            except (binascii.Error, ValueError, SignatureInvalid) as exc:
                return _html(render_failure(-1, f"验签失败: {exc}"), VERIFY_RESULT_CONTENT_TYPE)
            answer = render_verify_result(plaintext, verified.signer)
            return _html(answer, VERIFY_RESULT_CONTENT_TYPE)
        return web.Response(status=415, text=f"unsupported Content-Type {kind!r}")

    # -- front machine ---------------------------------------------------------------------

    async def _front_machine(self, request: web.Request) -> web.Response:
        try:
            packet = parse_request(await request.read())
        except MalformedPacket as exc:
            return web.Response(status=400, text=f"malformed packet: {exc}")
        reply = _Reply(packet.head.trans_code, packet.head.packet_id)
        body = self._verified_body(packet, reply)
        if body is None:
            return self._answer(reply)
        if packet.head.trans_code == TransCode.SINGLE_PAYMENT:
            return await self._single_payment(body, reply)
        if packet.head.trans_code == TransCode.PAYMENT_QUERY:
            self._payment_query(body, reply)
        else:
            reply.error = E_UNSUPPORTED
        return self._answer(reply)

    def _verified_body(self, packet: RequestPacket, reply: _Reply) -> Body | None:
        try:
            der = base64.b64decode(packet.signature, validate=True)
            content = verify_embedded(der, [self.identities.enterprise.certificate]).content
        except (binascii.Error, ValueError, SignatureInvalid):
            reply.error = E_SIGNATURE
            return None
        try:
            return parse_body(content)
        except MalformedPacket:
            reply.error = E_BAD_BODY
            return None

    async def _single_payment(self, body: Body, reply: _Reply) -> web.Response:
        fields = dict(body.fields)
        if any(not fields.get(name) for name in _REQUIRED_8801) or not amount_ok(fields["amount"]):
            reply.error = E_BAD_BODY
            return self._answer(reply)
        if payee_bank_refused(fields):
            reply.error = E_PAYEE_BANK
            return self._answer(reply)
        scenario = scenario_for(fields["payeeAcctNo"])
        if scenario is Scenario.REJECT:
            reply.error = E_BANK_AUTH_MISMATCH
            return self._answer(reply)
        if scenario is Scenario.SYSTEM_ERROR:
            reply.error = E_SYSTEM
            return self._answer(reply)
        payment = self._payments.get(fields["elecChequeNo"])
        if payment is None:
            payment = self._accept(fields, scenario)
        elif payment.fields != fields:
            reply.error = E_DUPLICATE_VOUCHER
            return self._answer(reply)
        reply.fields = [
            ("elecChequeNo", payment.elec_cheque_no),
            ("acceptNo", payment.accept_no),
            ("transStatus", self._trans_status(payment)),
        ]
        reply.body = build_body(reply.fields)
        if scenario is Scenario.UNLISTED_CODE:
            reply.error = E_UNLISTED
            return self._answer(reply)
        await self._answer_late()
        if scenario is Scenario.TIMEOUT:
            await self._hold()
        if scenario is Scenario.MALFORMED:
            return _packet(broken_answer(reply.trans_code, reply.packet_id))
        if scenario is Scenario.UNSIGNED:
            return self._answer(reply, unsigned=True)
        if scenario is Scenario.BAD_SIGNATURE:
            return self._answer(reply, signer=self.identities.rogue)
        return self._answer(reply)

    def _payment_query(self, body: Body, reply: _Reply) -> None:
        query = body.fields
        try:
            begin = checked_date(query.get("beginDate", ""))
            end = checked_date(query.get("endDate", ""))
            first = int(query.get("beginNumber") or "1")
            size = int(query.get("queryNumber") or "20")
        except ValueError:
            reply.error = E_BAD_BODY
            return
        if first < 1 or size < 1:
            reply.error = E_BAD_BODY
            return
        matches = [
            payment
            for payment in self._payments.values()
            if query.get("singleOrBatchFlag", "0") == "0"
            and payment.fields["acctNo"] == query.get("acctNo")
            and begin <= payment.trans_date <= end
            and query.get("elecChequeNo", "") in ("", payment.elec_cheque_no)
            and query.get("acceptNo", "") in ("", payment.accept_no)
        ]
        rows = []
        for payment in matches[first - 1 : first - 1 + size]:
            payment.polls += 1
            self.records.save(payment, self._counter)
            rows.append(self._result_row(payment))
        reply.body = build_body([("totalCount", str(len(matches)))], rows)

    def _result_row(self, payment: SandboxPayment) -> list[tuple[str, str]]:
        status = self._trans_status(payment)
        note = payment.fields.get("note", "")
        if status == "8":
            note = f"{note} 退回原因：收款人户名与账号不符（沙箱）".strip()
        elif status == "9":
            note = f"{note} 撤销原因：付款方撤销（沙箱）".strip()
        given = payment.fields
        return [
            ("elecChequeNo", payment.elec_cheque_no),
            ("acceptNo", payment.accept_no),
            ("serialNo", "1"),
            ("transDate", payment.trans_date),
            ("bespeakDate", given.get("bespeakDate", "")),
            ("PromiseDate", payment.trans_date),
            ("acctNo", given["acctNo"]),
            ("acctName", given["acctName"]),
            ("payeeAcctNo", given["payeeAcctNo"]),
            ("payeeName", given["payeeName"]),
            ("amount", given["amount"]),
            ("sysFlag", given.get("sysFlag", "")),
            ("remitLocation", given.get("remitLocation", "")),
            ("note", note),
            ("transStatus", status),
            ("seqNo", payment.seq_no),
        ]

    def _trans_status(self, payment: SandboxPayment) -> str:
        """The payment's transStatus after `polls` 8804 queries listed it (0: just accepted)."""
        if payment.polls == 0:
            return "0"
        scenario = payment.scenario
        if scenario is Scenario.PROCESSING_THEN_SUCCEED:
            if payment.polls <= self.config.processing_polls:
                return _PROCESSING_CODES[(payment.polls - 1) % len(_PROCESSING_CODES)]
            return "4"
        return {Scenario.REFUSE: "8", Scenario.REVOKE: "9", Scenario.UNKNOWN_STATUS: "7"}.get(scenario, "4")

    def _accept(self, fields: dict[str, str], scenario: Scenario) -> SandboxPayment:
        self._counter += 1
        today = to_beijing(self._clock()).strftime(DATE_FORMAT)
        payment = SandboxPayment(
            fields=fields,
            scenario=scenario,
            accept_no=f"SB{today}{self._counter:08d}",
            seq_no=f"{self._counter:012d}",
            trans_date=today,
        )
        self._payments[payment.elec_cheque_no] = payment
        self.records.save(payment, self._counter)
        return payment

    async def _answer_late(self) -> None:
        """A slow bank: the payment is taken in, its answer waits for `answer_gate` (when set)
        and `answer_delay_seconds`; released early when the app shuts down."""
        if self.answer_gate is None and self.config.answer_delay_seconds <= 0:
            return
        self.answers_held += 1
        try:
            if self.answer_gate is not None:
                await first_of(self.answer_gate, self._released)
            if self.config.answer_delay_seconds > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._released.wait(), self.config.answer_delay_seconds)
        finally:
            self.answers_held -= 1

    async def _hold(self) -> None:
        # Released early when the app shuts down, so a held answer never delays teardown.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), self.config.delay_seconds)

    def _answer(
        self, reply: _Reply, *, unsigned: bool = False, signer: SignerIdentity | None = None
    ) -> web.Response:
        """Frame the reply: an error as an unsigned body with returnCode/returnMsg, a success
        as a body signed by the bank (or by `signer`), or left in clear when `unsigned`."""
        stamp = format_timestamp(self._clock())
        if reply.error is not None or reply.body is None:
            code, message = reply.error or E_BAD_BODY
            head = AnswerHead(reply.trans_code, reply.packet_id, stamp, code, message, UNSIGNED)
            fields = [("returnCode", code), ("returnMsg", message)]
            return _packet(build_answer(head, fields=fields))
        head = AnswerHead(reply.trans_code, reply.packet_id, stamp, SUCCESS)
        if unsigned:
            return _packet(build_answer(head, fields=reply.fields))
        der = sign_embedded(signer or self.identities.bank, encode(reply.body))
        return _packet(build_answer(head, signature=base64.b64encode(der).decode("ascii")))


def _html(body: bytes, content_type: str) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": content_type})


def _packet(body: bytes) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": PACKET_CONTENT_TYPE})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m plugins.spdb.sandbox",
        description="SPDB signing server (/signer) and front machine (/front) simulator",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=SANDBOX_PORT)
    parser.add_argument(
        "--delay-seconds",
        type=float,
        default=DEFAULT_DELAY_SECONDS,
        help="how long the timeout scenario holds its 8801 answer",
    )
    parser.add_argument(
        "--answer-delay-seconds",
        type=float,
        default=0.0,
        help="a slow bank: every 8801 answer comes this many seconds late",
    )
    parser.add_argument(
        "--processing-polls",
        type=int,
        default=DEFAULT_PROCESSING_POLLS,
        help="8804 answers 'processing' this often before success",
    )
    args = parser.parse_args(argv)
    config = SandboxConfig(
        processing_polls=args.processing_polls,
        delay_seconds=args.delay_seconds,
        answer_delay_seconds=args.answer_delay_seconds,
    )
    web.run_app(SpdbSandbox(config).create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
