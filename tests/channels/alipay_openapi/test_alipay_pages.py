"""Page APIs (a signed URL the user opens, e.g. alipay.user.agreement.page.sign): the client
builds the URL without sending anything; the sandbox verifies it before showing the page."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_openapi.sandbox import (
    PageRefused,
    SandboxKeys,
    create_sandbox_app,
)
from plugins.alipay_openapi.sandbox_request import url_params
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import PrivateKey, verify_params

PAGE = "alipay.user.agreement.page.sign"
Factory = Callable[..., AlipayOpenApiSettings]


async def _page(biz: dict[str, Any], common: Mapping[str, str], action: str | None) -> dict[str, Any]:
    return {"shown": biz["external_agreement_no"], "action": action, "notify_url": common.get("notify_url")}


def test_page_url_carries_every_param_and_a_verifiable_sign(
    make_settings: Factory, app_key: PrivateKey
) -> None:
    client = AlipayClient(make_settings(notify_url="http://gw/callbacks/x"))
    url = client.build_page_url(
        PAGE,
        {"external_agreement_no": "EXT01", "personal_product_code": "GENERAL_WITHHOLDING_P"},
        return_url="https://shop/back",
    )
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    assert parts.path == "/gateway.do"
    assert params["method"] == PAGE and params["notify_url"] == "http://gw/callbacks/x"
    assert params["return_url"] == "https://shop/back"
    assert json.loads(params["biz_content"])["external_agreement_no"] == "EXT01"
    assert verify_params(params, params["sign"], app_key.public_key())
    assert url_params(url) == params


async def test_sandbox_shows_a_verified_page_and_passes_the_users_click(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    settings = make_settings()
    keys = SandboxKeys(alipay_key, {settings.app_id: app_key.public_key()})
    server = await aiohttp_server(create_sandbox_app(keys, {}, pages={PAGE: _page}))
    client = AlipayClient(make_settings(str(server.make_url("/gateway.do"))))
    url = client.build_page_url(PAGE, {"external_agreement_no": "EXT02"})

    async with aiohttp.ClientSession() as session:
        async with session.get(url) as looked:
            assert looked.status == 200
            assert await looked.json() == {"shown": "EXT02", "action": None, "notify_url": None}
        async with session.get(url + "&act=confirm") as clicked:
            assert (await clicked.json())["action"] == "confirm"
        async with session.get(url.replace("EXT02", "EXT03")) as tampered:
            assert tampered.status == 400
            assert (await tampered.json())["error"]["sub_code"] == "isv.invalid-signature"


async def test_open_page_refuses_a_url_signed_by_a_stranger(
    make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey, stranger_key: PrivateKey
) -> None:
    from plugins.alipay_openapi.sandbox import SANDBOX_GATEWAY
    from plugins.alipay_openapi.signing import private_key_pem

    settings = make_settings()
    app = create_sandbox_app(
        SandboxKeys(alipay_key, {settings.app_id: app_key.public_key()}), {}, pages={PAGE: _page}
    )
    forger = AlipayClient(make_settings(app_private_key=private_key_pem(stranger_key)))
    url = forger.build_page_url(PAGE, {"external_agreement_no": "EXT04"})
    try:
        await app[SANDBOX_GATEWAY].open_page(url_params(url))
    except PageRefused as refused:
        assert refused.payload["sub_code"] == "isv.invalid-signature"
    else:
        raise AssertionError("a forged page URL was shown")
