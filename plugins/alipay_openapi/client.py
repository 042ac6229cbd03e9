"""The async OpenAPI client: signs requests, posts them, verifies and types the answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp

from plugins.alipay_openapi.codes import classify_sub_code
from plugins.alipay_openapi.envelope import open_envelope
from plugins.alipay_openapi.errors import MalformedResponseError, TransportError
from plugins.alipay_openapi.response import OpenApiResponse
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import SIGN_TYPE, sign_params
from plugins.alipay_openapi.times import beijing_now, format_alipay_time

__all__ = [
    "FORM_CONTENT_TYPE",
    "AlipayClient",
    "SignedRequest",
    "classify_sub_code",
    "encode_biz_content",
]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
CHARSET = "utf-8"
API_VERSION = "1.0"


def _reject_floats(value: Any, path: str = "biz_content") -> None:
    if isinstance(value, float | Decimal):
        raise TypeError(f"{path} is a {type(value).__name__}: send amounts as decimal strings")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_floats(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_floats(item, f"{path}[{index}]")


def encode_biz_content(biz_content: Mapping[str, Any]) -> str:
    """Compact JSON, UTF-8 kept as is. Floats and Decimals are refused: money travels as str."""
    _reject_floats(biz_content)
    return json.dumps(biz_content, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request ready to send: common params and `sign` go in the URL, `biz_content` in the
    form body (the split the official SDKs use)."""

    method: str
    url: str
    query: Mapping[str, str]
    form: Mapping[str, str]

    def encoded_form(self) -> bytes:
        return urlencode(dict(self.form), encoding=CHARSET).encode("ascii")


class AlipayClient:
    """Calls OpenAPI methods for one app. Every call is signed with the app's private key,
    has a timeout, and returns only answers whose signature verified with Alipay's key.

    Raises `TransportError` / `ResponseSignatureError` / `MalformedResponseError` (all
    `UnknownOutcomeError`): the request may have taken effect, so query before anything else.
    Business failures are returned, not raised: see `OpenApiResponse.classification`.
    """

    def __init__(
        self,
        settings: AlipayOpenApiSettings,
        session: aiohttp.ClientSession | None = None,
        *,
        clock: Callable[[], datetime] = beijing_now,
    ) -> None:
        self._settings = settings
        self._private_key = settings.private_key()
        self._alipay_public_key = settings.public_key()
        self._session = session
        self._owns_session = session is None
        self._clock = clock

    @property
    def settings(self) -> AlipayOpenApiSettings:
        return self._settings

    def _common_params(
        self,
        method: str,
        notify_url: str | None,
        app_auth_token: str | None,
        return_url: str | None = None,
    ) -> dict[str, str]:
        settings = self._settings
        if notify_url is None:
            notify_url = settings.notify_url
        if app_auth_token is None and settings.app_auth_token is not None:
            app_auth_token = settings.app_auth_token.get_secret_value()
        common = {
            "app_id": settings.app_id,
            "method": method,
            "format": "json",
            "charset": CHARSET,
            "sign_type": SIGN_TYPE,
            "timestamp": format_alipay_time(self._clock()),
            "version": API_VERSION,
            "notify_url": notify_url or "",
            "return_url": return_url or "",
            "app_auth_token": app_auth_token or "",
            "app_cert_sn": settings.app_cert_sn or "",
            "alipay_root_cert_sn": settings.alipay_root_cert_sn or "",
        }
        return {key: value for key, value in common.items() if value}

    def _gateway_url(self, query: Mapping[str, str]) -> str:
        gateway_url = self._settings.gateway_url
        separator = "&" if "?" in gateway_url else "?"
        return gateway_url + separator + urlencode(dict(query), encoding=CHARSET)

    def build_request(
        self,
        method: str,
        biz_content: Mapping[str, Any],
        *,
        notify_url: str | None = None,
        app_auth_token: str | None = None,
    ) -> SignedRequest:
        """Sign `method` with `biz_content`; `notify_url` / `app_auth_token` default to the
        settings (pass "" to leave one out)."""
        common = self._common_params(method, notify_url, app_auth_token)
        form = {"biz_content": encode_biz_content(biz_content)}
        query = dict(common)
        query["sign"] = sign_params({**common, **form}, self._private_key)
        return SignedRequest(
            method=method,
            url=self._gateway_url(query),
            query=MappingProxyType(query),
            form=MappingProxyType(form),
        )

    def build_page_url(
        self,
        method: str,
        biz_content: Mapping[str, Any],
        *,
        notify_url: str | None = None,
        return_url: str | None = None,
        app_auth_token: str | None = None,
    ) -> str:
        """The signed GET URL of a page API (e.g. `alipay.user.agreement.page.sign`): nothing is
        sent; the user opens the URL at the gateway, which shows the page. Every parameter,
        `biz_content` and `sign` included, travels in the query string."""
        params = self._common_params(method, notify_url, app_auth_token, return_url)
        params["biz_content"] = encode_biz_content(biz_content)
        params["sign"] = sign_params(params, self._private_key)
        return self._gateway_url(params)

    async def execute(
        self,
        method: str,
        biz_content: Mapping[str, Any],
        *,
        notify_url: str | None = None,
        app_auth_token: str | None = None,
        timeout_seconds: float | None = None,
    ) -> OpenApiResponse:
        """Send one signed request and return its verified, typed answer."""
        request = self.build_request(
            method, biz_content, notify_url=notify_url, app_auth_token=app_auth_token
        )
        raw = await self._post(request, timeout_seconds or self._settings.timeout_seconds)
        envelope = open_envelope(raw, method, self._alipay_public_key)
        return OpenApiResponse.from_payload(
            method, envelope.payload, raw, is_error_response=envelope.is_error_response
        )

    async def _post(self, request: SignedRequest, timeout_seconds: float) -> str:
        session = self._ensure_session()
        timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        try:
            async with session.post(
                request.url,
                data=request.encoded_form(),
                headers={"Content-Type": FORM_CONTENT_TYPE},
                timeout=timeout,
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise TransportError(
                f"{request.method} timed out after {timeout_seconds}s", timed_out=True
            ) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"{request.method} transport failure: {exc}") from exc
        if status != 200:
            raise TransportError(f"{request.method} answered HTTP {status}", status=status)
        try:
            return body.decode(CHARSET)
        except UnicodeDecodeError as exc:
            raise MalformedResponseError(f"answer to {request.method} is not UTF-8") from exc

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AlipayClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
