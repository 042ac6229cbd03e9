"""HTTP handlers of virtual accounts: open, read, list entries; operators fund and check the ledger."""

from __future__ import annotations

from aiohttp import web

from core.approvals.model import ApprovalAction
from core.ledger import AccountKind, BankCard
from core.money import Money, check_currency
from core.payments.model import request_fingerprint
from gateway.http.approvals import proposed
from gateway.http.errors import body_of
from gateway.http.params import int_query, services
from gateway.http.request_body import parse_body
from gateway.http.schemas.accounts import FundBody, OpenAccountBody
from gateway.keys import app_id_of, operator_of


async def open_account(request: web.Request) -> web.Response:
    body = await parse_body(request, OpenAccountBody)
    currency = check_currency(body.currency)
    card = body.bank_card
    account = (
        await services(request)
        .accounts()
        .open(
            app_id_of(request),
            body.owner,
            AccountKind(body.kind),
            currency,
            body.allow_overdraft,
            bank_card=BankCard(card.card_no, card.name, card.bank_name, card.bank_no) if card else None,
        )
    )
    return body_of(account, 201)


async def get_account(request: web.Request) -> web.Response:
    return body_of(await services(request).accounts().get(app_id_of(request), request.match_info["id"]))


async def account_entries(request: web.Request) -> web.Response:
    container = services(request)
    max_page = container.settings().limits.page_size_max
    limit = int_query(request, "limit", 50, 1, max_page)
    before = int_query(request, "cursor", None, 1, 2**62)
    assert limit is not None
    page = await container.accounts().entries(app_id_of(request), request.match_info["id"], limit, before)
    return body_of(page)


async def fund_account(request: web.Request) -> web.Response:
    body = await parse_body(request, FundBody)
    currency = check_currency(body.currency)
    amount = Money.parse(body.amount, currency)
    fingerprint = request_fingerprint({"account": request.match_info["id"], **body.model_dump(mode="json")})
    if services(request).settings().ops.maker_checker.funding:
        payload = {
            "out_request_no": body.out_request_no,
            "amount": str(amount.decimal),
            "currency": currency,
            "request_hash": fingerprint,
        }
        return await proposed(
            request, ApprovalAction.FUND_ACCOUNT, "account", request.match_info["id"], payload
        )
    result, created = (
        await services(request)
        .accounts()
        .fund(
            request.match_info["id"],
            body.out_request_no,
            amount,
            fingerprint,
            actor=operator_of(request).login,
        )
    )
    return body_of(result, 201 if created else 200)


async def ledger_check(request: web.Request) -> web.Response:
    report = await services(request).accounts().ledger_check()
    return body_of(report, 200)
