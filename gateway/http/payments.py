"""HTTP handlers of payments: create, read, find, flow, route explanation, channel callbacks, stuck ones."""

from __future__ import annotations

import logging

from aiohttp import web

from core.errors import InvalidArgument, NotFound
from core.money import Money, check_currency, parse_amount
from core.payments.model import Payment, request_fingerprint
from core.payments.routing import CALLERS, RouteRequest
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payments.views import payment_view
from gateway.http.errors import body_of
from gateway.http.params import services
from gateway.http.request_body import parse_body
from gateway.http.schemas.payments import ExplainBody, PaymentBody
from gateway.keys import app_id_of, raw_body

log = logging.getLogger("paygate.http")


async def create_payment(request: web.Request) -> web.Response:
    body = await parse_body(request, PaymentBody)
    currency = check_currency(body.currency)
    for field, value in body.money_fields():
        parse_amount(value, currency, field=field, allow_zero=field != "amount")
    cmd = PaymentCommand(
        app_id=app_id_of(request),
        out_request_no=body.out_request_no,
        request_hash=request_fingerprint(body.model_dump(mode="json")),
        pay_method=body.pay_method,
        amount=Money.parse(body.amount, currency),
        payer_account=body.payer_account,
        payee_account=body.payee_account,
        channel=body.channel,
        business_type=body.business_type,
        memo=body.memo,
        details=body.model_dump(
            mode="json",
            include={
                "settlement",
                "fee",
                "buyer_fee",
                "upper_merchants",
                "fee_solution",
                "profit_shares",
                "marketing",
            },
            exclude_none=True,
        ),
        ledger_accounts=tuple(dict.fromkeys(body.ledger_accounts())),
        submitter=CALLERS,
    )
    payment, created = await services(request).payments().submit(cmd)
    return body_of(payment_view(payment), 201 if created else 200)


async def _own_payment(request: web.Request, payment_id: str) -> Payment:
    container = services(request)
    async with container.read_uow() as uow:
        payment: Payment | None = await uow.payments.get(payment_id)
    if payment is None or payment.app_id != app_id_of(request):
        raise NotFound(f"payment {payment_id} does not exist", code="PAYMENT_NOT_FOUND")
    return payment


async def get_payment(request: web.Request) -> web.Response:
    return body_of(payment_view(await _own_payment(request, request.match_info["id"])))


async def find_payment(request: web.Request) -> web.Response:
    out_request_no = request.query.get("out_request_no")
    if not out_request_no:
        raise InvalidArgument("give ?out_request_no=... to look a payment up", field="out_request_no")
    async with services(request).read_uow() as uow:
        payment = await uow.payments.by_request_no(app_id_of(request), out_request_no)
    if payment is None:
        raise NotFound(f"no payment with out_request_no {out_request_no!r}", code="PAYMENT_NOT_FOUND")
    return body_of(payment_view(payment))


async def payment_flow(request: web.Request) -> web.Response:
    payment = await _own_payment(request, request.match_info["id"])
    container = services(request)
    await container.flow().flush()
    return body_of({"payment_id": payment.id, "flow": await container.flow_reader().timeline(payment.id)})


async def explain_route(request: web.Request) -> web.Response:
    body = await parse_body(request, ExplainBody)
    currency = check_currency(body.currency)
    amount = parse_amount(body.amount, currency)
    decision = (
        services(request)
        .payments()
        .explain(
            RouteRequest(body.pay_method, amount, currency, body.channel, body.business_type, CALLERS),
            app_id_of(request),
        )
    )
    return body_of(decision)


async def list_stuck_payments(request: web.Request) -> web.Response:
    return body_of({"payments": await services(request).outbox_admin().stuck_payments()})


async def channel_callback(request: web.Request) -> web.Response:
    """A channel's asynchronous notification: verified before it can change anything."""
    from ports.channels import NotificationRejected

    container = services(request)
    code = request.match_info["channel"]
    channel = container.channels().get(code)
    if channel is None or channel.notification is None:
        raise NotFound(f"channel {code} takes no callbacks", code="CHANNEL_NOT_FOUND")
    body = await raw_body(request)
    try:
        notice = await channel.notification.verify_notification(dict(request.headers), body)
    except NotificationRejected as exc:
        return web.Response(status=400, text=f"rejected: {exc}")
    if notice.event is not None:
        # not about a payment (an agreement or a contract signed ...): the workflow owning it
        for handler in container.channel_event_handlers():
            if await handler.on_channel_event(code, notice.event):
                break
        else:
            log.warning(
                "verified channel event nobody handles", extra={"channel": code, "kind": notice.event.kind}
            )
        return web.Response(text=notice.reply_body)
    # verified, so acknowledged even when refused (about another channel's payment, a different
    # amount, a payment we do not know): repeating it would not make it apply
    outcome = await container.payments().apply_notice(code, notice)
    if outcome.refusal is not None:
        container.metrics().callbacks_refused.labels(code, outcome.refusal.value).inc()
    return web.Response(text=notice.reply_body)
