"""Lease order routes (seed 000): the pre-order, its contract and withholding agreement, the
plan, closing, and the channel's view; every operation belongs to one order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from core.errors import InvalidArgument
from core.lease.status import AsyncUnsignOperation, CancelReason
from core.money import Money
from core.usecases.lease.views import (
    contract_signing_view,
    lease_view,
    withholding_query_view,
    withholding_signing_view,
)
from gateway.http.errors import body_of
from gateway.http.request_body import parse_body
from gateway.http.schemas.answers_workflows import (
    ChannelInfoAnswer,
    ContractSigningAnswer,
    LeaseFlow,
    LeaseOrderAnswer,
    WithholdingQueryAnswer,
    WithholdingSigningAnswer,
)
from gateway.http.schemas.lease import (
    CancelPlanBody,
    CloseBody,
    ContractSignBody,
    LeaseOrderBody,
    UnsignBody,
    UnsignConfirmationBody,
    WithholdingSignBody,
)
from gateway.keys import CONTAINER, app_id_of

if TYPE_CHECKING:
    from gateway.container import Container
    from gateway.http.routes import Route


def _services(request: web.Request) -> Container:
    return request.app[CONTAINER]


def _order_id(request: web.Request) -> str:
    return request.match_info["id"]


# -- the order -------------------------------------------------------------------------------
async def create_lease_order(request: web.Request) -> web.Response:
    body = await parse_body(request, LeaseOrderBody, empty_is_object=True)
    order, created = await _services(request).lease_orders().create(app_id_of(request), body)
    return body_of(lease_view(order), 201 if created else 200)


async def get_lease_order(request: web.Request) -> web.Response:
    order = await _services(request).lease_orders().get(_order_id(request), app_id_of(request))
    return body_of(lease_view(order))


async def find_lease_order(request: web.Request) -> web.Response:
    out_order_no = request.query.get("out_order_no")
    if not out_order_no:
        raise InvalidArgument("give ?out_order_no=... to look a lease order up", field="out_order_no")
    order = await _services(request).lease_orders().by_out_order_no(app_id_of(request), out_order_no)
    return body_of(lease_view(order))


async def lease_channel_info(request: web.Request) -> web.Response:
    orders = _services(request).lease_orders()
    return body_of(await orders.channel_info(_order_id(request), app_id_of(request)))


async def lease_order_flow(request: web.Request) -> web.Response:
    container = _services(request)
    order = await container.lease_orders().get(_order_id(request), app_id_of(request))
    await container.flow().flush()
    return body_of({"order_id": order.id, "flow": await container.flow_reader().timeline(order.id)})


# -- operations ------------------------------------------------------------------------------
async def sign_contract(request: web.Request) -> web.Response:
    body = await parse_body(request, ContractSignBody, empty_is_object=True)
    signing = _services(request).lease_signing()
    order = await signing.start(_order_id(request), app_id_of(request), body.template_id)
    return body_of(contract_signing_view(order))


async def sign_withholding(request: web.Request) -> web.Response:
    body = await parse_body(request, WithholdingSignBody, empty_is_object=True)
    withholding = _services(request).lease_withholding()
    order = await withholding.start_signing(_order_id(request), app_id_of(request), body.return_url)
    return body_of(withholding_signing_view(order))


async def query_withholding(request: web.Request) -> web.Response:
    withholding = _services(request).lease_withholding()
    order, answer = await withholding.query(_order_id(request), app_id_of(request))
    return body_of(withholding_query_view(order, answer))


async def unsign_withholding(request: web.Request) -> web.Response:
    body = await parse_body(request, UnsignBody, empty_is_object=True)
    withholding = _services(request).lease_withholding()
    order = await withholding.unsign(_order_id(request), app_id_of(request), body.reason)
    return body_of(lease_view(order))


async def cancel_withholding_plan(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelPlanBody, empty_is_object=True)
    withholding = _services(request).lease_withholding()
    reason = CancelReason(body.reason)
    order = await withholding.cancel_plan(_order_id(request), app_id_of(request), reason, body.note)
    return body_of(lease_view(order))


async def confirm_async_unsign(request: web.Request) -> web.Response:
    body = await parse_body(request, UnsignConfirmationBody, empty_is_object=True)
    debt = Money.parse(body.user_debt, "CNY", field="user_debt", allow_zero=True)
    order = (
        await _services(request)
        .lease_withholding()
        .refuse_async_unsign(
            _order_id(request),
            app_id_of(request),
            AsyncUnsignOperation(body.operation),
            body.service_user,
            debt,
            body.reason,
        )
    )
    return body_of(lease_view(order))


async def close_lease_order(request: web.Request) -> web.Response:
    body = await parse_body(request, CloseBody, empty_is_object=True)
    closing = _services(request).lease_closing()
    order = await closing.close(_order_id(request), app_id_of(request), body.reason)
    return body_of(lease_view(order))


def lease_routes() -> tuple[Route, ...]:
    """The lease rows of the route table (Route is imported when the table is built, so that
    routes.py can import this module without a cycle)."""
    from gateway.http.routes import Route

    base = "/v1/lease/orders/{id}"
    return (
        Route(
            "POST",
            "/v1/lease/orders",
            create_lease_order,
            "同步前置订单: a lease order with its rent plan, synced to the channel (idempotent)",
            LeaseOrderBody,
            "app",
            ok=(201, 200),
            errors=(502,),
            response=LeaseOrderAnswer,
        ),
        Route(
            "GET",
            base,
            get_lease_order,
            "A lease order: contract, agreement, plan and each period's status",
            None,
            "app",
            response=LeaseOrderAnswer,
        ),
        Route(
            "GET",
            base + "/channel-info",
            lease_channel_info,
            "查询订单信息: the channel's view of the order (query type orderFullInfo)",
            None,
            "app",
            errors=(422, 502),
            response=ChannelInfoAnswer,
        ),
        Route(
            "GET",
            base + "/flow",
            lease_order_flow,
            "The order's flow-log timeline",
            None,
            "app",
            response=LeaseFlow,
        ),
        Route(
            "POST",
            base + "/contract/sign",
            sign_contract,
            "前置合同签署: the signing URL(s) of the contract made from a template",
            ContractSignBody,
            "app",
            errors=(502,),
            response=ContractSigningAnswer,
        ),
        Route(
            "POST",
            base + "/withholding/sign",
            sign_withholding,
            "代扣签约: the withholding agreement's signing URL for the user",
            WithholdingSignBody,
            "app",
            errors=(502,),
            response=WithholdingSigningAnswer,
        ),
        Route(
            "POST",
            base + "/withholding/query",
            query_withholding,
            "查询代扣签约: ask the channel where the withholding signing stands",
            None,
            "app",
            errors=(502,),
            response=WithholdingQueryAnswer,
        ),
        Route(
            "POST",
            base + "/withholding/unsign",
            unsign_withholding,
            "解除代扣: end the withholding agreement",
            UnsignBody,
            "app",
            errors=(502,),
            response=LeaseOrderAnswer,
        ),
        Route(
            "POST",
            base + "/withholding/cancel-plan",
            cancel_withholding_plan,
            "取消代扣计划: stop collecting the unpaid periods, with a reason",
            CancelPlanBody,
            "app",
            errors=(502,),
            response=LeaseOrderAnswer,
        ),
        Route(
            "POST",
            base + "/withholding/unsign-confirmation",
            confirm_async_unsign,
            "异步解约确认: refuse the user's unsign request (operation REFUSE)",
            UnsignConfirmationBody,
            "app",
            errors=(502,),
            response=LeaseOrderAnswer,
        ),
        Route(
            "POST",
            base + "/close",
            close_lease_order,
            "关闭订单: only when fulfilled, or the plan was cancelled for lease-to-sale or a return",
            CloseBody,
            "app",
            errors=(502,),
            response=LeaseOrderAnswer,
        ),
    )
