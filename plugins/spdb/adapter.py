"""SPDB's payment and query ports: 8801 to pay, 8804 to learn the outcome, mapped to ChannelResult."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import aiohttp

from plugins.spdb.client import SpdbClient
from plugins.spdb.errors import INVALID_PAYEE, NotSent, OutcomeUnknown, QueryRejected
from plugins.spdb.exchange import Exchange as WireExchange
from plugins.spdb.messages import AnswerStatus, PayeeType, PaymentQuery, SinglePayment, payee_route
from plugins.spdb.packet import BEIJING
from plugins.spdb.settings import SpdbSettings
from ports.channels import ChannelResult, ChannelStatus, Exchange, PaymentRequest, RequestNotSent


def _logged(operation: str, wire: WireExchange | None, error: str | None = None) -> tuple[Exchange, ...]:
    if wire is None:
        return ()
    return (Exchange(operation, wire.request_log, wire.response_log, error),)


def single_payment(request: PaymentRequest, payer_bank_no: str) -> SinglePayment:
    """The 8801 payment of a platform payment; `RequestNotSent(INVALID_PAYEE)` when a payee
    detail is not one the bank knows (the client checks the rest before signing). Same bank /
    other bank, same city / other city and the CNAPS number sent come from the payee bank's CNAPS
    number against the payer branch's (`payee_route`)."""
    d = request.details
    try:
        payee_type = PayeeType(str(d.get("payee_type", PayeeType.PERSONAL.value)))
    except ValueError as exc:
        raise RequestNotSent(INVALID_PAYEE, f"payee detail the bank does not know: {exc}") from exc
    sys_flag, remit_location, payee_bank_no = payee_route(str(d.get("payee_bank_no") or ""), payer_bank_no)
    return SinglePayment(
        elec_cheque_no=request.payment_id,
        payee_acct_no=request.payee_account or "",
        payee_name=str(d.get("payee_name", "")),
        amount=Decimal(request.amount.decimal),
        payee_type=payee_type,
        sys_flag=sys_flag,
        remit_location=remit_location,
        payee_bank_name=str(d.get("payee_bank_name", "")),
        payee_bank_no=payee_bank_no,
        note=(request.memo or "")[:60],
        pay_purpose=str(d.get("pay_purpose", "")),
    )


class SpdbAdapter:
    """The elecChequeNo sent to the bank is the platform's payment id, so a resend of the same
    payment can never become a second payment; a new attempt is a new payment (new voucher)."""

    def __init__(self, settings: SpdbSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._client: SpdbClient | None = None

    def client(self) -> SpdbClient:
        if self._client is None:
            self._session = aiohttp.ClientSession()
            self._client = SpdbClient(self.settings, self._session)
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        """Send 8801. Raises `RequestNotSent` when nothing reached the front machine (the payee
        fields, the packet, the signing server, no connection): the payment fails with its code.
        Anything after a connection was opened is unknown, resolved by 8804."""
        payment = single_payment(request, self.settings.acct_bank_no)
        try:
            answer = await self.client().pay_8801(payment)
        except NotSent as exc:
            raise RequestNotSent(exc.code, exc.message) from exc
        except OutcomeUnknown as exc:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code=type(exc).__name__,
                message=str(exc),
                exchanges=_logged("8801", exc.exchange, str(exc)),
            )
        exchanges = _logged("8801", answer.exchange)
        if answer.status is AnswerStatus.REJECTED:
            return ChannelResult(
                ChannelStatus.FAILED, code=answer.return_code, message=answer.return_msg, exchanges=exchanges
            )
        # accepted: the final state comes only from 8804
        return ChannelResult(
            ChannelStatus.PROCESSING,
            channel_ref=answer.accept_no,
            code=answer.return_code,
            message=answer.return_msg,
            exchanges=exchanges,
        )

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        today = datetime.now(BEIJING).date()
        sent_on = request.created_at.astimezone(BEIJING).date() if request.created_at else today
        # from the day it was sent until today, so a payment that crossed midnight is still found
        query = PaymentQuery(
            elec_cheque_no=request.payment_id,
            accept_no=channel_ref or "",
            begin_date=sent_on,
            end_date=max(sent_on, today),
        )
        try:
            answer = await self.client().query_8804(query)
        except OutcomeUnknown as exc:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code=type(exc).__name__,
                message=str(exc),
                exchanges=_logged("8804", exc.exchange, str(exc)),
            )
        except NotSent as exc:
            # a query not sent learnt nothing
            return ChannelResult(ChannelStatus.UNKNOWN, code=exc.code, message=exc.message)
        except QueryRejected as exc:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code=type(exc).__name__,
                message=str(exc),
                exchanges=_logged("8804", exc.exchange, str(exc)),
            )
        exchanges = _logged("8804", answer.exchange)
        found = answer.for_cheque(request.payment_id)
        if found is None:
            # a verified 8804 for this very voucher, from the day it was saved until today, that
            # lists nothing at all: the bank has no such payment. Unknown (it may not be listed
            # yet); after the request's deadline, proof it never arrived (resent, same voucher)
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code="NOT_FOUND_YET",
                message="8804 does not list this voucher yet",
                exchanges=exchanges,
                order_not_found=answer.total_count == 0 and not answer.results,
            )
        if found.amount is not None and found.amount != request.amount.decimal:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code="AMOUNT_MISMATCH",
                message=f"8804 reports {found.amount}, expected {request.amount}",
                exchanges=exchanges,
            )
        code = None if found.status is not ChannelStatus.FAILED else f"TRANS_STATUS_{found.trans_status}"
        return ChannelResult(
            found.status,
            channel_ref=found.accept_no or channel_ref,
            code=code,
            message=found.refusal_reason or found.note or None,
            exchanges=exchanges,
        )
