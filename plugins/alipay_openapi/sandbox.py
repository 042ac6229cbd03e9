"""A reusable aiohttp sandbox of the OpenAPI gateway: verifies callers, signs its answers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from plugins.alipay_openapi.client import RESERVED_PARAMS
from plugins.alipay_openapi.envelope import ERROR_RESPONSE_KEY, response_key
from plugins.alipay_openapi.sandbox_request import ParamError, SandboxFile, gateway_error, read_request
from plugins.alipay_openapi.signing import (
    SIGN_TYPE,
    PrivateKey,
    PublicKey,
    generate_private_key,
    sign_content,
    verify_params,
)
from plugins.alipay_openapi.times import ALIPAY_TIME_FORMAT

GATEWAY_PATH = "/gateway.do"
_REQUIRED = ("app_id", "method", "charset", "sign_type", "sign", "timestamp", "version")


@dataclass(frozen=True, slots=True)
class SandboxKeys:
    """The sandbox's own signing key and the public keys of the apps allowed to call it."""

    alipay_private_key: PrivateKey
    app_public_keys: Mapping[str, PublicKey]

    @property
    def alipay_public_key(self) -> PublicKey:
        return self.alipay_private_key.public_key()

    @classmethod
    def generate(cls, app_id: str) -> tuple[SandboxKeys, PrivateKey]:
        """Fresh keys for one app: the sandbox keys, and the app private key to give the client."""
        app_key = generate_private_key()
        keys = cls(generate_private_key(), {app_id: app_key.public_key()})
        return keys, app_key


@dataclass(frozen=True, slots=True)
class SandboxAnswer:
    """A handler's answer when it needs more than a dict: `signing_key` overrides the
    sandbox's key (to simulate an answer that fails verification)."""

    payload: Mapping[str, Any]
    signing_key: PrivateKey | None = None


SandboxHandler = Callable[[dict[str, Any], Mapping[str, str]], Awaitable["Mapping[str, Any] | SandboxAnswer"]]
# A method taking top-level parameters and files (a multipart upload, e.g. seal.sign):
# (its own parameters — biz_content too, when one was sent —, common params, files) -> answer.
SandboxUpload = Callable[
    [dict[str, str], Mapping[str, str], Mapping[str, SandboxFile]],
    Awaitable["Mapping[str, Any] | SandboxAnswer"],
]
# A page API: (biz_content, common params, the user's action or None) -> what the page shows.
SandboxPage = Callable[[dict[str, Any], Mapping[str, str], str | None], Awaitable[Mapping[str, Any]]]
# The unsigned parameter standing for the user's click on a page (confirm, refuse, ...).
USER_ACTION_PARAM = "act"


def success(**fields: Any) -> dict[str, Any]:
    """A 10000 answer carrying `fields`."""
    return {"code": "10000", "msg": "Success", **fields}


def business_error(sub_code: str, sub_msg: str, **fields: Any) -> dict[str, Any]:
    """A 40004 "Business Failed" answer."""
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg, **fields}


def render_answer(key: str, payload: Mapping[str, Any], signing_key: PrivateKey) -> str:
    """`{"<key>":{...},"sign":"..."}` with the sign computed over the exact `{...}` text."""
    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    sign = sign_content(content, signing_key)
    return "{" + json.dumps(key) + ":" + content + ',"sign":' + json.dumps(sign) + "}"


def _check_common(params: Mapping[str, str], keys: SandboxKeys) -> PublicKey:
    for name in _REQUIRED:
        if not params.get(name):
            missing = "signature" if name == "sign" else name.replace("_", "-")
            raise ParamError(
                gateway_error(
                    "40001", "Missing Required Arguments", f"isv.missing-{missing}", f"缺少{name}参数"
                )
            )
    app_public_key = keys.app_public_keys.get(params["app_id"])
    if app_public_key is None:
        raise ParamError(gateway_error("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数"))
    if params["sign_type"] != SIGN_TYPE:
        raise ParamError(
            gateway_error("40002", "Invalid Arguments", "isv.invalid-signature-type", "无效的签名类型")
        )
    if params["version"] != "1.0":
        raise ParamError(gateway_error("40002", "Invalid Arguments", "isv.invalid-version", "无效的版本号"))
    try:
        datetime.strptime(params["timestamp"], ALIPAY_TIME_FORMAT)
    except ValueError as exc:
        raise ParamError(
            gateway_error("40002", "Invalid Arguments", "isv.invalid-timestamp", "非法的时间戳参数")
        ) from exc
    return app_public_key


def _biz_content(params: Mapping[str, str]) -> dict[str, Any]:
    try:
        biz_content = json.loads(params.get("biz_content") or "{}")
    except ValueError as exc:
        raise ParamError(
            gateway_error("40002", "Invalid Arguments", "isv.invalid-parameter", "biz_content不是合法的JSON")
        ) from exc
    if not isinstance(biz_content, dict):
        raise ParamError(
            gateway_error("40002", "Invalid Arguments", "isv.invalid-parameter", "biz_content不是JSON对象")
        )
    return biz_content


class PageRefused(Exception):
    """A page URL the sandbox will not show (bad signature, unknown app, not a page API)."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        super().__init__(payload.get("sub_code"))
        self.payload = dict(payload)


@dataclass
class _Gateway:
    keys: SandboxKeys
    handlers: Mapping[str, SandboxHandler]
    pages: Mapping[str, SandboxPage] = field(default_factory=dict)
    uploads: Mapping[str, SandboxUpload] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _verified(self, params: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """(biz_content, common params) of a request whose caller signature verified."""
        app_public_key = _check_common(params, self.keys)
        if not verify_params(params, params["sign"], app_public_key):
            raise ParamError(
                gateway_error(
                    "40002",
                    "Invalid Arguments",
                    "isv.invalid-signature",
                    "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配",
                )
            )
        biz_content = _biz_content(params)
        common = {k: v for k, v in params.items() if k not in ("sign", "biz_content")}
        return biz_content, common

    async def handle(self, request: web.Request) -> web.Response:
        key = ERROR_RESPONSE_KEY
        try:
            read = await read_request(request)
            params = read.params
            if params.get("method") in self.pages:
                return await self._page(params)
            if params.get("method"):
                key = response_key(params["method"])
            answer = await self._call(params, read.files)
        except ParamError as refused:
            return self._respond(key, refused.payload, None)
        if isinstance(answer, SandboxAnswer):
            return self._respond(key, answer.payload, answer.signing_key)
        return self._respond(key, answer, None)

    async def _call(
        self, params: Mapping[str, str], files: Mapping[str, SandboxFile]
    ) -> Mapping[str, Any] | SandboxAnswer:
        """Verify the caller, then answer with the method's handler (or upload handler)."""
        biz_content, common = self._verified(params)
        method = params["method"]
        upload = self.uploads.get(method)
        if upload is not None:
            own = {k: v for k, v in params.items() if k not in RESERVED_PARAMS or k == "biz_content"}
            shared = {
                k: v for k, v in params.items() if k in RESERVED_PARAMS and k not in ("sign", "biz_content")
            }
            self.calls.append((method, {**own, **{name: f.file_name for name, f in files.items()}}))
            return await upload(own, shared, files)
        handler = self.handlers.get(method)
        if handler is None:
            raise ParamError(
                gateway_error("40002", "Invalid Arguments", "isv.invalid-method", "不存在的方法名")
            )
        if files:
            raise ParamError(
                gateway_error("40002", "Invalid Arguments", "isv.invalid-parameter", "该接口不支持文件上传")
            )
        self.calls.append((method, biz_content))
        return await handler(biz_content, common)

    async def open_page(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        """What the user sees on opening a page URL (its parameters), after its signature is
        verified; `act` (USER_ACTION_PARAM, not signed) is the user's click on that page.
        Raises PageRefused for a URL the gateway would refuse to show."""
        signed = {k: v for k, v in params.items() if k != USER_ACTION_PARAM}
        page = self.pages.get(signed.get("method", ""))
        try:
            if page is None:
                raise ParamError(
                    gateway_error("40002", "Invalid Arguments", "isv.invalid-method", "不存在的页面接口")
                )
            biz_content, common = self._verified(signed)
        except ParamError as refused:
            raise PageRefused(refused.payload) from refused
        self.calls.append((signed["method"], biz_content))
        return await page(biz_content, common, params.get(USER_ACTION_PARAM))

    async def _page(self, params: Mapping[str, str]) -> web.Response:
        try:
            shown = await self.open_page(params)
        except PageRefused as refused:
            return web.json_response({"error": refused.payload}, status=400)
        return web.json_response(dict(shown))

    def _respond(self, key: str, payload: Mapping[str, Any], signing_key: PrivateKey | None) -> web.Response:
        text = render_answer(key, payload, signing_key or self.keys.alipay_private_key)
        return web.Response(text=text, content_type="application/json", charset="utf-8")


SANDBOX_GATEWAY = web.AppKey("alipay_sandbox_gateway", _Gateway)


def create_sandbox_app(
    keys: SandboxKeys,
    handlers: Mapping[str, SandboxHandler],
    *,
    path: str = GATEWAY_PATH,
    pages: Mapping[str, SandboxPage] | None = None,
    uploads: Mapping[str, SandboxUpload] | None = None,
) -> web.Application:
    """An aiohttp app answering OpenAPI calls at `path` (GET or POST) with `handlers`, which
    map a method name to `async (biz_content, common_params) -> answer dict | SandboxAnswer`.

    Callers are verified with their registered app public key; a bad signature gets a signed
    40002 `isv.invalid-signature` answer, as the real gateway gives.

    `pages` serve page APIs (a signed URL the user opens, e.g. alipay.user.agreement.page.sign):
    `async (biz_content, common_params, action) -> what the page shows`, where `action` is the
    user's click (`?act=confirm`, `?act=refuse`; None: the page is only looked at). The answer
    is plain JSON, not a signed envelope: it stands for the page the user sees.

    `uploads` serve methods that take top-level parameters and files (multipart/form-data):
    `async (own_params, common_params, files) -> answer`; the signature is verified over the
    text parameters only, as Alipay signs them (a file is never signed).
    """
    gateway = _Gateway(keys, handlers, dict(pages or {}), dict(uploads or {}))
    app = web.Application()
    app[SANDBOX_GATEWAY] = gateway
    app.router.add_route("GET", path, gateway.handle)
    app.router.add_route("POST", path, gateway.handle)
    return app
