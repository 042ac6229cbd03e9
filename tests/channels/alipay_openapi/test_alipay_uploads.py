"""Methods that take top-level parameters and a file (multipart/form-data, e.g. seal.sign):
the client signs the text parameters only, as Alipay does; the sandbox reads the parts and
verifies the same signature; and files an answer points to are downloaded."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from email.parser import BytesParser
from email.policy import default
from typing import Any

import pytest
from aiohttp import web

from plugins.alipay_openapi.client import AlipayClient, FileUpload
from plugins.alipay_openapi.errors import TransportError
from plugins.alipay_openapi.multipart import multipart_body
from plugins.alipay_openapi.sandbox import SandboxKeys, create_sandbox_app, success
from plugins.alipay_openapi.sandbox_request import SandboxFile
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import PrivateKey, build_sign_content, verify_params

UPLOAD = "alipay.demo.file.upload"
ECHO = "alipay.demo.echo"
Factory = Callable[..., AlipayOpenApiSettings]
PARAMS: dict[str, str | Mapping[str, Any]] = {
    "biz_no": "lse_1_TPL_1",
    "signer_user_name": "张三",
    "sign_area_org": {"pos_y": 700, "pos_x": 400, "pos_page": 1},
}
FILE = FileUpload("contract.pdf", b"%PDF-1.4 \x00\xff binary", "application/pdf")


def test_the_signature_covers_the_text_parameters_not_the_file(
    make_settings: Factory, app_key: PrivateKey
) -> None:
    request = AlipayClient(make_settings()).build_upload(UPLOAD, PARAMS, {"file_content": FILE})

    assert request.form["sign_area_org"] == '{"pos_page":1,"pos_x":400,"pos_y":700}'
    assert "file_content" not in request.form and request.files["file_content"] is FILE
    assert "biz_content" not in request.form and request.query["method"] == UPLOAD
    signed = {**request.query, **request.form}
    assert "file_content" not in build_sign_content(signed)
    assert verify_params(signed, request.query["sign"], app_key.public_key())


def test_reserved_names_and_float_objects_are_refused(make_settings: Factory) -> None:
    client = AlipayClient(make_settings())
    with pytest.raises(ValueError, match="biz_content"):
        client.build_upload(UPLOAD, {"biz_content": "{}"}, {})
    with pytest.raises(ValueError, match="file_content"):
        client.build_upload(UPLOAD, {"file_content": "x"}, {"file_content": FILE})
    with pytest.raises(TypeError, match="area.pos_x"):
        client.build_upload(UPLOAD, {"area": {"pos_x": Decimal("1.5")}}, {})


async def _echo(biz: dict[str, Any], common: Mapping[str, str]) -> dict[str, Any]:
    return success(echo=biz.get("word"))


async def _start(
    aiohttp_server: Any, app_key: PrivateKey, alipay_key: PrivateKey, app_id: str, seen: list[Any]
) -> str:
    async def upload(
        own: dict[str, str], common: Mapping[str, str], files: Mapping[str, SandboxFile]
    ) -> dict[str, Any]:
        seen.append((own, dict(common), dict(files)))
        return success(biz_no=own.get("biz_no"))

    async def contract_file(request: web.Request) -> web.Response:
        return web.Response(body=FILE.content, content_type="application/pdf")

    keys = SandboxKeys(alipay_key, {app_id: app_key.public_key()})
    app = create_sandbox_app(keys, {ECHO: _echo}, uploads={UPLOAD: upload})
    app.router.add_get("/files/contract.pdf", contract_file)
    server = await aiohttp_server(app)
    return str(server.make_url("/gateway.do"))


async def test_the_sandbox_reads_the_parts_and_verifies_the_upload(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    seen: list[Any] = []
    url = await _start(aiohttp_server, app_key, alipay_key, make_settings().app_id, seen)

    async with AlipayClient(make_settings(url)) as client:
        response = await client.execute_upload(UPLOAD, PARAMS, {"file_content": FILE})

    assert response.is_success and response.body["biz_no"] == "lse_1_TPL_1"
    [(own, common, files)] = seen
    assert own == {
        "biz_no": "lse_1_TPL_1",
        "signer_user_name": "张三",
        "sign_area_org": '{"pos_page":1,"pos_x":400,"pos_y":700}',
    }
    assert common["method"] == UPLOAD and "sign" not in common
    assert files["file_content"] == SandboxFile("contract.pdf", FILE.content, "application/pdf")


async def test_a_text_parameter_changed_after_signing_is_refused_a_changed_file_is_not(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    seen: list[Any] = []
    url = await _start(aiohttp_server, app_key, alipay_key, make_settings().app_id, seen)

    async with AlipayClient(make_settings(url)) as client:
        request = client.build_upload(UPLOAD, PARAMS, {"file_content": FILE})
        tampered = type(request)(
            request.method, request.url, request.query, {**request.form, "biz_no": "other"}, request.files
        )
        refused = await client.send(tampered)
        other_file = {"file_content": FileUpload("contract.pdf", b"another document")}
        accepted = await client.send(
            type(request)(request.method, request.url, request.query, request.form, other_file)
        )

    assert (refused.code, refused.sub_code) == ("40002", "isv.invalid-signature")
    assert accepted.is_success and seen[0][2]["file_content"].content == b"another document"


async def test_a_file_sent_to_a_method_that_takes_none_is_refused(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    url = await _start(aiohttp_server, app_key, alipay_key, make_settings().app_id, [])

    async with AlipayClient(make_settings(url)) as client:
        response = await client.execute_upload(ECHO, {"word": "hi"}, {"file_content": FILE})

    assert (response.code, response.sub_code) == ("40002", "isv.invalid-parameter")


async def test_a_file_is_downloaded_whole_and_a_missing_one_is_a_transport_error(
    aiohttp_server: Any, make_settings: Factory, app_key: PrivateKey, alipay_key: PrivateKey
) -> None:
    url = await _start(aiohttp_server, app_key, alipay_key, make_settings().app_id, [])
    base = url.removesuffix("/gateway.do")

    async with AlipayClient(make_settings(url)) as client:
        content = await client.download(base + "/files/contract.pdf")
        with pytest.raises(TransportError) as missing:
            await client.download(base + "/files/nothing.pdf")

    assert content == FILE.content
    assert missing.value.status == 404


def test_a_multipart_body_reads_back_its_fields_and_files_with_names_escaped() -> None:
    body, content_type = multipart_body(
        {"biz_no": "a", 'odd"name': "张三"},
        {"file_content": FileUpload('c"1.pdf', b"%PDF\r\n--x", "application/pdf")},
    )
    message = BytesParser(policy=default).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = {str(p.get_param("name", header="content-disposition")): p for p in message.iter_parts()}

    assert content_type.startswith("multipart/form-data; boundary=paygate")
    assert parts["biz_no"].get_content() == "a" and parts["odd%22name"].get_content() == "张三"
    assert parts["file_content"].get_filename() == "c%221.pdf"
    assert parts["file_content"].get_content() == b"%PDF\r\n--x"
