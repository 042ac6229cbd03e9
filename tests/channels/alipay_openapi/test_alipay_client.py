"""The OpenAPI client: request layout, timestamps, timeouts and unverifiable answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_openapi.codes import SubCodeClass
from plugins.alipay_openapi.errors import (
    MalformedResponseError,
    OpenApiError,
    RequestNotSentError,
    ResponseSignatureError,
    TransportError,
    UnknownOutcomeError,
)
from plugins.alipay_openapi.sandbox import render_answer
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import PrivateKey, verify_params
from ports.conformance import SilentServer

METHOD = "alipay.fund.trans.common.query"
KEY = "alipay_fund_trans_common_query_response"
NEW_YEAR_UTC = datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
Factory = Callable[..., AlipayOpenApiSettings]


def _client(settings: AlipayOpenApiSettings, session: aiohttp.ClientSession | None = None) -> AlipayClient:
    return AlipayClient(settings, session, clock=lambda: NEW_YEAR_UTC)


def test_common_params_and_sign_go_in_the_query_and_biz_content_in_the_body(
    make_settings: Factory, app_key: PrivateKey
) -> None:
    settings = make_settings(notify_url="https://shop.example/notify?x=1")
    request = _client(settings).build_request(METHOD, {"out_biz_no": "P-1", "title": "退款"})

    query = dict(parse_qsl(urlsplit(request.url).query))
    assert query == dict(request.query)
    assert set(query) == {
        "app_id",
        "method",
        "format",
        "charset",
        "sign_type",
        "timestamp",
        "version",
        "notify_url",
        "sign",
    }
    assert query["method"] == METHOD
    assert query["format"] == "json"
    assert query["charset"] == "utf-8"
    assert query["sign_type"] == "RSA2"
    assert query["version"] == "1.0"
    assert query["notify_url"] == "https://shop.example/notify?x=1"
    assert dict(parse_qsl(request.encoded_form().decode())) == {
        "biz_content": '{"out_biz_no":"P-1","title":"退款"}'
    }
    signed = {**query, **request.form}
    assert verify_params(signed, query["sign"], app_key.public_key())


def test_timestamp_is_beijing_wall_clock(make_settings: Factory) -> None:
    request = _client(make_settings()).build_request(METHOD, {})

    assert request.query["timestamp"] == "2024-01-01 08:00:05"


def test_naive_clock_is_refused(make_settings: Factory) -> None:
    client = AlipayClient(make_settings(), clock=lambda: datetime(2024, 1, 1))

    with pytest.raises(ValueError, match="timezone-aware"):
        client.build_request(METHOD, {})


def test_app_auth_token_is_sent_when_configured(make_settings: Factory) -> None:
    request = _client(make_settings(app_auth_token="tok-1")).build_request(METHOD, {})

    assert request.query["app_auth_token"] == "tok-1"


def test_certificate_mode_serial_numbers_are_signed_common_params(
    make_settings: Factory, app_key: PrivateKey
) -> None:
    settings = make_settings(
        app_cert_sn="50fa7bc5dc305a4fbdbe166689ddc827",
        alipay_root_cert_sn="687b59193f3f462dd5336e5abf83c5d8_02941eef",
    )
    request = _client(settings).build_request(METHOD, {})

    assert request.query["app_cert_sn"] == "50fa7bc5dc305a4fbdbe166689ddc827"
    assert request.query["alipay_root_cert_sn"] == "687b59193f3f462dd5336e5abf83c5d8_02941eef"
    assert verify_params({**request.query, **request.form}, request.query["sign"], app_key.public_key())


def test_money_must_travel_as_strings(make_settings: Factory) -> None:
    client = _client(make_settings())

    with pytest.raises(TypeError, match="decimal strings"):
        client.build_request(METHOD, {"trans_amount": 1.5})
    with pytest.raises(TypeError, match="decimal strings"):
        client.build_request(METHOD, {"items": [{"amount": Decimal("1.50")}]})


def test_settings_never_print_the_private_key(make_settings: Factory, app_key: PrivateKey) -> None:
    settings = make_settings(app_auth_token="tok-secret")

    assert "PRIVATE" not in repr(settings)
    assert "tok-secret" not in repr(settings)


def test_settings_refuse_an_unloadable_key_without_echoing_it(make_settings: Factory) -> None:
    with pytest.raises(ValidationError) as caught:
        make_settings(app_private_key="-----BEGIN PRIVATE KEY-----\nTOPSECRET\n")

    assert "TOPSECRET" not in str(caught.value)


Handler = Callable[[web.Request], Any]


async def _serve(aiohttp_server: Any, handler: Handler) -> str:
    app = web.Application()
    app.router.add_post("/gateway.do", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("/gateway.do"))


async def test_verified_answer_is_typed(
    aiohttp_server: Any, make_settings: Factory, alipay_key: PrivateKey
) -> None:
    payload = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "PAYEE_NOT_EXIST",
        "sub_msg": "收款账号不存在",
    }

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=render_answer(KEY, payload, alipay_key))

    url = await _serve(aiohttp_server, answer)
    async with _client(make_settings(url)) as client:
        response = await client.execute(METHOD, {"out_biz_no": "P-1"})

    assert (response.code, response.sub_code, response.sub_msg) == (
        "40004",
        "PAYEE_NOT_EXIST",
        "收款账号不存在",
    )
    assert not response.is_success
    assert response.classification is SubCodeClass.PERMANENT
    assert response.body["msg"] == "Business Failed"
    with pytest.raises(OpenApiError):
        response.raise_for_code()


async def test_answer_signed_by_another_key_is_an_unknown_outcome(
    aiohttp_server: Any, make_settings: Factory, stranger_key: PrivateKey
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            text=render_answer(KEY, {"code": "10000", "msg": "Success", "status": "SUCCESS"}, stranger_key)
        )

    url = await _serve(aiohttp_server, answer)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ResponseSignatureError):
            await _client(make_settings(url), session).execute(METHOD, {})


async def test_non_json_answer_is_an_unknown_outcome(aiohttp_server: Any, make_settings: Factory) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="<html>busy</html>")

    url = await _serve(aiohttp_server, answer)
    async with _client(make_settings(url)) as client:
        with pytest.raises(MalformedResponseError):
            await client.execute(METHOD, {})


async def test_http_error_status_is_a_transport_error(aiohttp_server: Any, make_settings: Factory) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=502, text="bad gateway")

    url = await _serve(aiohttp_server, answer)
    async with _client(make_settings(url)) as client:
        with pytest.raises(TransportError) as caught:
            await client.execute(METHOD, {})

    assert caught.value.status == 502


async def test_every_call_times_out(aiohttp_server: Any, make_settings: Factory) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response(text="late")

    url = await _serve(aiohttp_server, hang)
    async with _client(make_settings(url, timeout_seconds=0.05)) as client:
        with pytest.raises(TransportError) as caught:
            await client.execute(METHOD, {})

    assert caught.value.timed_out


async def test_a_refused_connection_is_a_request_not_sent(make_settings: Factory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _client(make_settings(f"http://127.0.0.1:{port}/gateway.do")) as client:
        with pytest.raises(RequestNotSentError) as caught:
            await client.execute(METHOD, {})

    assert caught.value.code == "CONNECT_FAILED"
    assert not isinstance(caught.value, UnknownOutcomeError)


async def test_a_connection_dropped_after_the_request_left_is_a_transport_error(
    make_settings: Factory,
) -> None:
    async with (
        SilentServer(drop=True) as server,
        _client(make_settings(f"{server.url}/gateway.do")) as client,
    ):
        with pytest.raises(TransportError) as caught:
            await client.execute(METHOD, {})
    assert server.received.startswith(b"POST /gateway.do")
    assert not caught.value.timed_out


async def test_a_request_that_cannot_be_built_is_not_sent(make_settings: Factory) -> None:
    async with _client(make_settings("http://127.0.0.1:9/gateway.do")) as client:
        with pytest.raises(RequestNotSentError) as caught:
            await client.execute(METHOD, {"trans_amount": 1.5})
    assert caught.value.code == "INVALID_REQUEST"
