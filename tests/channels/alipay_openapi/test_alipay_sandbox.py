"""The library's OpenAPI gateway sandbox: caller verification, answer signing, notifications."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_openapi.codes import SubCodeClass
from plugins.alipay_openapi.envelope import open_envelope
from plugins.alipay_openapi.notify import verify_notify_body
from plugins.alipay_openapi.sandbox import SandboxKeys, create_sandbox_app, success
from plugins.alipay_openapi.sandbox_notify import send_notification
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import PrivateKey, private_key_pem

METHOD = "alipay.demo.echo"
Factory = Callable[..., AlipayOpenApiSettings]


async def _echo(biz: dict[str, Any], common: Mapping[str, str]) -> dict[str, Any]:
    return success(echo=biz.get("word"), app_id=common["app_id"])


async def _start(aiohttp_server: Any, app_key: PrivateKey, alipay_key: PrivateKey, app_id: str) -> str:
    keys = SandboxKeys(alipay_key, {app_id: app_key.public_key()})
    server = await aiohttp_server(create_sandbox_app(keys, {METHOD: _echo}))
    return str(server.make_url("/gateway.do"))


async def test_signed_call_is_answered_and_the_answer_verifies(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    settings = make_settings()
    url = await _start(aiohttp_server, app_key, alipay_key, settings.app_id)

    async with AlipayClient(make_settings(url)) as client:
        response = await client.execute(METHOD, {"word": '你好 {"}'})

    assert response.is_success
    assert response.body["echo"] == '你好 {"}'


async def _post(url: str, query: Mapping[str, str], form: Mapping[str, str] | None) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url + "?" + urlencode(query),
            data=urlencode(form).encode() if form is not None else b"",
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        ) as response,
    ):
        return await response.text()


async def test_params_are_accepted_in_the_query_the_body_or_both(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    settings = make_settings()
    url = await _start(aiohttp_server, app_key, alipay_key, settings.app_id)
    request = AlipayClient(settings).build_request(METHOD, {"word": "hi"})
    everything = {**request.query, **request.form}

    for query, form in [(request.query, request.form), (everything, None), ({}, everything)]:
        body = await _post(url, query, form)
        payload = open_envelope(body, METHOD, alipay_key.public_key()).payload
        assert payload["echo"] == "hi", (query, form)


async def test_bad_caller_signature_gets_a_signed_invalid_signature_answer(
    aiohttp_server: Any,
    make_settings: Factory,
    app_key: PrivateKey,
    alipay_key: PrivateKey,
    stranger_key: PrivateKey,
) -> None:
    settings = make_settings()
    url = await _start(aiohttp_server, app_key, alipay_key, settings.app_id)
    forger = make_settings(url, app_private_key=private_key_pem(stranger_key))

    async with AlipayClient(forger) as client:
        response = await client.execute(METHOD, {"word": "hi"})

    assert (response.code, response.sub_code) == ("40002", "isv.invalid-signature")
    assert response.classification is SubCodeClass.PERMANENT


async def test_unknown_app_and_unknown_method_are_refused(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    url = await _start(aiohttp_server, app_key, alipay_key, make_settings().app_id)

    async with AlipayClient(make_settings(url, app_id="2021000000009999")) as client:
        unknown_app = await client.execute(METHOD, {})
    async with AlipayClient(make_settings(url)) as client:
        unknown_method = await client.execute("alipay.no.such.method", {})

    assert unknown_app.sub_code == "isv.invalid-app-id"
    assert unknown_method.sub_code == "isv.invalid-method"


async def test_missing_method_is_answered_as_error_response(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    url = await _start(aiohttp_server, app_key, alipay_key, make_settings().app_id)

    body = await _post(url, {"app_id": "x"}, None)
    verified = open_envelope(body, METHOD, alipay_key.public_key())

    assert verified.is_error_response
    assert verified.payload["code"] == "40001"


async def _notify_receiver(aiohttp_server: Any, reply: str, received: list[bytes]) -> str:
    async def receive(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(text=reply)

    app = web.Application()
    app.router.add_post("/notify", receive)
    server = await aiohttp_server(app)
    return str(server.make_url("/notify"))


async def test_signed_notification_reaches_the_receiver_and_verifies(
    aiohttp_server: Any, alipay_key: PrivateKey
) -> None:
    received: list[bytes] = []
    url = await _notify_receiver(aiohttp_server, "success", received)

    async with aiohttp.ClientSession() as session:
        delivery = await send_notification(
            session,
            url,
            {"app_id": "2021", "notify_type": "trade_status_sync", "subject": "a&b 张三"},
            alipay_key,
        )

    assert delivery.acknowledged
    verified = verify_notify_body(received[0], alipay_key.public_key(), expected_app_id="2021")
    assert verified.get("subject") == "a&b 张三"


async def test_notification_not_answered_success_is_not_acknowledged(
    aiohttp_server: Any, alipay_key: PrivateKey
) -> None:
    url = await _notify_receiver(aiohttp_server, "fail", [])

    async with aiohttp.ClientSession() as session:
        delivery = await send_notification(session, url, {"app_id": "2021"}, alipay_key)

    assert not delivery.acknowledged
