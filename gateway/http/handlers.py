"""Thin handlers: parse the body, call a use case, answer JSON."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from core.errors import InvalidArgument, NotFound
from core.ledger import AccountKind, BankCard
from core.money import Money, check_currency, parse_amount
from core.payment import request_fingerprint
from core.routing import RouteRequest
from core.usecases.payments import PaymentCommand, payment_view
from gateway.http.errors import body_of
from gateway.http.schemas.payments import ExplainBody, FundBody, OpenAccountBody, PaymentBody
from gateway.keys import CONTAINER, OPERATOR, app_id_of, raw_body

log = logging.getLogger("paygate.http")


def _services(request: web.Request) -> Any:
    return request.app[CONTAINER]


# -- accounts --------------------------------------------------------------------------------
async def open_account(request: web.Request) -> web.Response:
    body = OpenAccountBody.model_validate_json(await raw_body(request))
    currency = check_currency(body.currency)
    account = (
        await _services(request)
        .accounts()
        .open(
            app_id_of(request),
            body.owner,
            AccountKind(body.kind),
            currency,
            body.allow_overdraft,
            bank_card=BankCard(card.card_no, card.name, card.bank_name) if (card := body.bank_card) else None,
        )
    )
    return body_of(account, 201)


async def get_account(request: web.Request) -> web.Response:
    return body_of(await _services(request).accounts().get(app_id_of(request), request.match_info["id"]))


def _int_query(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise InvalidArgument(f"{name} must be a whole number from {lo} to {hi}", field=name)
    return int(raw)


async def account_entries(request: web.Request) -> web.Response:
    container = _services(request)
    max_page = container.settings().limits.page_size_max
    limit = _int_query(request, "limit", 50, 1, max_page)
    before = _int_query(request, "cursor", None, 1, 2**62)
    assert limit is not None
    page = await container.accounts().entries(app_id_of(request), request.match_info["id"], limit, before)
    return body_of(page)


# -- payments --------------------------------------------------------------------------------
async def create_payment(request: web.Request) -> web.Response:
    raw = await raw_body(request)
    body = PaymentBody.model_validate_json(raw)
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
    )
    payment, created = await _services(request).payments().submit(cmd)
    return body_of(payment_view(payment), 201 if created else 200)


async def _own_payment(request: web.Request, payment_id: str) -> Any:
    container = _services(request)
    async with container.read_uow() as uow:
        payment = await uow.payments.get(payment_id)
    if payment is None or payment.app_id != app_id_of(request):
        raise NotFound(f"payment {payment_id} does not exist", code="PAYMENT_NOT_FOUND")
    return payment


async def get_payment(request: web.Request) -> web.Response:
    return body_of(payment_view(await _own_payment(request, request.match_info["id"])))


async def find_payment(request: web.Request) -> web.Response:
    out_request_no = request.query.get("out_request_no")
    if not out_request_no:
        raise InvalidArgument("give ?out_request_no=... to look a payment up", field="out_request_no")
    async with _services(request).read_uow() as uow:
        payment = await uow.payments.by_request_no(app_id_of(request), out_request_no)
    if payment is None:
        raise NotFound(f"no payment with out_request_no {out_request_no!r}", code="PAYMENT_NOT_FOUND")
    return body_of(payment_view(payment))


async def payment_flow(request: web.Request) -> web.Response:
    payment = await _own_payment(request, request.match_info["id"])
    container = _services(request)
    await container.flow().flush()
    return body_of({"payment_id": payment.id, "flow": await container.flow_reader().timeline(payment.id)})


async def explain_route(request: web.Request) -> web.Response:
    body = ExplainBody.model_validate_json(await raw_body(request))
    currency = check_currency(body.currency)
    amount = parse_amount(body.amount, currency)
    decision = (
        _services(request)
        .payments()
        .explain(RouteRequest(body.pay_method, amount, currency, body.channel, body.business_type))
    )
    return body_of(decision)


# -- operations ------------------------------------------------------------------------------
async def fund_account(request: web.Request) -> web.Response:
    raw = await raw_body(request)
    body = FundBody.model_validate_json(raw)
    currency = check_currency(body.currency)
    amount = Money.parse(body.amount, currency)
    result, created = (
        await _services(request)
        .accounts()
        .fund(
            request.match_info["id"],
            body.out_request_no,
            amount,
            request_fingerprint({"account": request.match_info["id"], **body.model_dump(mode="json")}),
            actor=request[OPERATOR],
        )
    )
    return body_of(result, 201 if created else 200)


async def ledger_check(request: web.Request) -> web.Response:
    report = await _services(request).accounts().ledger_check()
    return body_of(report, 200)


async def list_notifications(request: web.Request) -> web.Response:
    status = request.query.get("status", "dead")
    if status not in {"pending", "delivered", "dead", "failing"}:
        raise InvalidArgument("status must be pending, failing, delivered or dead", field="status")
    limit = _int_query(request, "limit", 100, 1, 1000)
    assert limit is not None
    return body_of({"notifications": await _services(request).outbox_admin().deliveries(status, limit)})


async def replay_notification(request: web.Request) -> web.Response:
    item = await _services(request).outbox_admin().replay(request.match_info["id"], request[OPERATOR])
    return body_of(item, 202)


async def list_stuck_payments(request: web.Request) -> web.Response:
    return body_of({"payments": await _services(request).outbox_admin().stuck_payments()})


async def channel_callback(request: web.Request) -> web.Response:
    """A channel's asynchronous notification: verified before it can change anything."""
    from ports.channels import NotificationRejected

    container = _services(request)
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
    assert notice.payment_id is not None and notice.result is not None
    await container.payments().apply_result(notice.payment_id, notice.result, via="notification")
    return web.Response(text=notice.reply_body)
