"""HTTP routes of loan and reimbursement bills: caller routes under /v1, operator routes under /ops."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from core.bills.actions import ErrorAction
from core.bills.model import Bill, BillKind, WriteOffLine
from core.errors import InvalidArgument
from core.money import Money, check_currency
from core.payments.model import request_fingerprint
from core.usecases.bills.requests import BillRefused, BillRequest
from core.usecases.bills.views import action_result_view, bill_view, ops_bill_view
from gateway.http.errors import body_of
from gateway.http.request_body import parse_body
from gateway.http.schemas.answers_workflows import (
    BillActionAnswer,
    BillAnswer,
    BillExchanges,
    BillFlow,
    OpsBillAnswer,
)
from gateway.http.schemas.bills import BillActionBody, BillBody, LoanBody, ReimbursementBody
from gateway.keys import CONTAINER, app_id_of, operator_of

if TYPE_CHECKING:
    from gateway.http.routes import Route
_RATE = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,16})?$")


def _rate(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    if _RATE.fullmatch(raw) is None:
        raise InvalidArgument(
            f'exchange_rate {raw!r} must be a decimal string such as "7.1234"', field="exchange_rate"
        )
    return Decimal(raw)


def _money(raw: str, currency: str, field: str) -> Money:
    # zero passes here: a zero amount is a bill rule (INVALID_AMOUNT), stored with the bill
    return Money.parse(raw, currency, field=field, allow_zero=True)


def _request(app_id: str, kind: BillKind, body: BillBody) -> BillRequest:
    currency = check_currency(body.currency)
    lines: tuple[WriteOffLine, ...]
    if isinstance(body, LoanBody):
        amount, write_off_total, lines = _money(body.amount, currency, "amount"), Money.zero(currency), ()
    else:
        assert isinstance(body, ReimbursementBody)
        amount = _money(body.reimbursement_amount, currency, "reimbursement_amount")
        write_off_total = _money(body.write_off_total, currency, "write_off_total")
        lines = tuple(
            WriteOffLine(w.loan_bill_id, _money(w.amount, currency, f"write_offs[{i}].amount"))
            for i, w in enumerate(body.write_offs)
        )
    return BillRequest(
        app_id=app_id,
        kind=kind,
        request_hash=request_fingerprint({"kind": kind.value, **body.model_dump(mode="json")}),
        bill_code=body.bill_code,
        pay_mode=body.pay_mode,
        applicant_account_id=body.applicant_account,
        amount=amount,
        write_off_total=write_off_total,
        write_offs=lines,
        exchange_rate=_rate(body.exchange_rate),
        payer_card_no=body.payer_card_no,
        payee_card_no=body.payee_card_no,
        payee_name=body.payee_name,
        memo=body.memo,
    )


def refused(exc: BillRefused) -> web.Response:
    """The standard error body, with the id of the bill it is about."""
    error = {"code": exc.code, "message": exc.message, "field": exc.field, "bill_id": exc.bill_id}
    return web.json_response({"error": error}, status=exc.http_status)


async def _submit(request: web.Request, kind: BillKind, body: BillBody) -> web.Response:
    try:
        bill, created = (
            await request.app[CONTAINER].bill_intake().submit(_request(app_id_of(request), kind, body))
        )
    except BillRefused as exc:
        return refused(exc)
    return body_of(bill_view(bill), 201 if created else 200)


async def create_loan(request: web.Request) -> web.Response:
    return await _submit(request, BillKind.LOAN, await parse_body(request, LoanBody))


async def create_reimbursement(request: web.Request) -> web.Response:
    body = await parse_body(request, ReimbursementBody)
    return await _submit(request, BillKind.REIMBURSEMENT, body)


async def _own_bill(request: web.Request) -> Bill:
    bill: Bill = await request.app[CONTAINER].bill_context().get(request.match_info["id"], app_id_of(request))
    return bill


async def get_bill(request: web.Request) -> web.Response:
    return body_of(bill_view(await _own_bill(request)))


async def find_bill(request: web.Request) -> web.Response:
    bill_code = request.query.get("bill_code")
    if not bill_code:
        raise InvalidArgument("give ?bill_code=... to look a bill up", field="bill_code")
    return body_of(
        bill_view(await request.app[CONTAINER].bill_context().by_code(app_id_of(request), bill_code))
    )


async def _flow(request: web.Request, bill: Bill) -> web.Response:
    container = request.app[CONTAINER]
    await container.flow().flush()
    return body_of({"bill_id": bill.id, "flow": await container.bill_queries().timeline(bill)})


async def bill_flow(request: web.Request) -> web.Response:
    return await _flow(request, await _own_bill(request))


# -- operators -------------------------------------------------------------------------------
async def _any_bill(request: web.Request) -> Bill:
    bill: Bill = await request.app[CONTAINER].bill_context().get(request.match_info["id"])
    return bill


async def ops_get_bill(request: web.Request) -> web.Response:
    return body_of(ops_bill_view(await _any_bill(request)))


async def ops_bill_flow(request: web.Request) -> web.Response:
    return await _flow(request, await _any_bill(request))


async def ops_bill_exchanges(request: web.Request) -> web.Response:
    bill = await _any_bill(request)
    exchanges = await request.app[CONTAINER].bill_queries().exchanges(bill)
    return body_of({"bill_id": bill.id, "exchanges": exchanges})


async def ops_bill_action(request: web.Request) -> web.Response:
    name = request.match_info["action"]
    try:
        action = ErrorAction(name)
    except ValueError:
        choices = ", ".join(a.value for a in ErrorAction)
        message = f"action {name!r} does not exist; use one of {choices}"
        raise InvalidArgument(message, field="action") from None
    body = await parse_body(request, BillActionBody, empty_is_object=True)
    actions = request.app[CONTAINER].bill_actions()
    bill = await actions.act(request.match_info["id"], action, operator_of(request).login, body.reason)
    # requery_bank only records the request: the query poller asks the bank (poll GET /ops/bills/{id})
    return body_of(action_result_view(bill), status=202 if action is ErrorAction.REQUERY_BANK else 200)


def bill_routes() -> tuple[Route, ...]:
    """The bill routes, for the route table (imported late: routes.py imports this module)."""
    from gateway.http.routes import Route

    return (
        Route(
            "POST",
            "/v1/bills/loans",
            create_loan,
            "Create a loan bill (idempotent on bill_code)",
            LoanBody,
            "app",
            ok=(201, 200),
            response=BillAnswer,
        ),
        Route(
            "POST",
            "/v1/bills/reimbursements",
            create_reimbursement,
            "Create a reimbursement bill writing off the applicant's loans (idempotent on bill_code)",
            ReimbursementBody,
            "app",
            ok=(201, 200),
            response=BillAnswer,
        ),
        Route("GET", "/v1/bills/{id}", get_bill, "A bill with its status", None, "app", response=BillAnswer),
        Route(
            "GET",
            "/v1/bills/{id}/flow",
            bill_flow,
            "The bill's flow-log timeline merged with its bank payments'",
            None,
            "app",
            response=BillFlow,
        ),
        Route(
            "GET",
            "/ops/bills/{id}",
            ops_get_bill,
            "A bill and the actions allowed on it",
            None,
            "ops",
            response=OpsBillAnswer,
        ),
        Route(
            "GET",
            "/ops/bills/{id}/flow",
            ops_bill_flow,
            "A bill's merged flow-log timeline",
            None,
            "ops",
            response=BillFlow,
        ),
        Route(
            "GET",
            "/ops/bills/{id}/exchanges",
            ops_bill_exchanges,
            "The bank's request/answer packets of every attempt of a bill (masked)",
            None,
            "ops",
            response=BillExchanges,
        ),
        Route(
            "POST",
            "/ops/bills/{id}/actions/{action}",
            ops_bill_action,
            "Error handling: revalidate, resend_bank, requery_bank, rerun_business, switch_to_transfer",
            BillActionBody,
            "ops",
            path_schemas={"action": {"enum": [a.value for a in ErrorAction]}},
            ok=(200, 202),
            response=BillActionAnswer,
        ),
    )
