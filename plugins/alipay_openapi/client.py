"""The async OpenAPI client: signs requests, posts them, verifies and types the answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp

from plugins.alipay_openapi.codes import classify_sub_code
from plugins.alipay_openapi.envelope import open_envelope
from plugins.alipay_openapi.errors import (
    CONNECT_FAILED,
    INVALID_REQUEST,
    MalformedResponseError,
    RequestNotSentError,
    TransportError,
)
from plugins.alipay_openapi.multipart import multipart_body
from plugins.alipay_openapi.response import OpenApiResponse
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import SIGN_TYPE, sign_params
from plugins.alipay_openapi.times import beijing_now, format_alipay_time

__all__ = [
    "FORM_CONTENT_TYPE",
    "AlipayClient",
    "FileUpload",
    "SignedRequest",
    "classify_sub_code",
    "encode_biz_content",
    "encode_param",
]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
CHARSET = "utf-8"
API_VERSION = "1.0"
# Parameters the client itself sets (or that carry the business content): a method's own
# top-level parameters may not use these names.
RESERVED_PARAMS = frozenset(
    {
        "app_id", "method", "format", "charset", "sign_type", "sign", "timestamp", "version",
        "notify_url", "return_url", "app_auth_token", "app_cert_sn", "alipay_root_cert_sn",
        "biz_content",
    }
)  # fmt: skip


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


def encode_param(name: str, value: str | Mapping[str, Any]) -> str:
    """A top-level parameter as it travels: text as is, an object as compact JSON with sorted
    keys (the official SDK's rendering of a request's object parameters)."""
    if isinstance(value, str):
        return value
    _reject_floats(value, name)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A file a method takes as a multipart part (e.g. seal.sign's `file_content`)."""

    file_name: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request ready to send: common params and `sign` go in the URL, the rest in the body
    (the split the official SDKs use): `biz_content`, or a method's own top-level parameters
    and, for a method that takes files, the files (then the body is multipart/form-data)."""

    method: str
    url: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    files: Mapping[str, FileUpload] = field(default_factory=lambda: MappingProxyType({}))

    def encoded_form(self) -> bytes:
        return urlencode(dict(self.form), encoding=CHARSET).encode("ascii")


class AlipayClient:
    """Calls OpenAPI methods for one app. Every call is signed with the app's private key,
    has a timeout, and returns only answers whose signature verified with Alipay's key.

    Raises `TransportError` / `ResponseSignatureError` / `MalformedResponseError` (all
    `UnknownOutcomeError`): the request may have taken effect, so query before anything else.
    Raises `RequestNotSentError` when nothing reached Alipay (a request that cannot be built or
    signed, no connection opened). Business failures are returned, not raised: see
    `OpenApiResponse.classification`.
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

    def build_upload(
        self,
        method: str,
        params: Mapping[str, str | Mapping[str, Any]],
        files: Mapping[str, FileUpload],
        *,
        notify_url: str | None = None,
        app_auth_token: str | None = None,
    ) -> SignedRequest:
        """Sign a method that takes its fields as top-level parameters and files (no
        biz_content), sent as multipart/form-data. The signature covers the common and the
        text parameters, never the files: Alipay signs text parameters only. Empty values are
        left out."""
        reserved = (set(params) | set(files)) & RESERVED_PARAMS
        if reserved or set(params) & set(files):
            raise ValueError(
                f"{method}: parameter names clash: {sorted(reserved or set(params) & set(files))}"
            )
        common = self._common_params(method, notify_url, app_auth_token)
        form = {name: encode_param(name, value) for name, value in params.items() if value}
        query = dict(common)
        query["sign"] = sign_params({**common, **form}, self._private_key)
        return SignedRequest(
            method=method,
            url=self._gateway_url(query),
            query=MappingProxyType(query),
            form=MappingProxyType(form),
            files=MappingProxyType(dict(files)),
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
        try:
            request = self.build_request(
                method, biz_content, notify_url=notify_url, app_auth_token=app_auth_token
            )
        except (TypeError, ValueError) as exc:
            raise RequestNotSentError(INVALID_REQUEST, f"{method} not built: {exc}") from exc
        return await self.send(request, timeout_seconds=timeout_seconds)

    async def execute_upload(
        self,
        method: str,
        params: Mapping[str, str | Mapping[str, Any]],
        files: Mapping[str, FileUpload],
        *,
        timeout_seconds: float | None = None,
    ) -> OpenApiResponse:
        """Send a method with top-level parameters and files (see `build_upload`)."""
        try:
            request = self.build_upload(method, params, files)
        except (TypeError, ValueError) as exc:
            raise RequestNotSentError(INVALID_REQUEST, f"{method} not built: {exc}") from exc
        return await self.send(request, timeout_seconds=timeout_seconds)

    async def send(self, request: SignedRequest, *, timeout_seconds: float | None = None) -> OpenApiResponse:
        """Post a signed request and return its verified, typed answer."""
        raw = await self._post(request, timeout_seconds or self._settings.timeout_seconds)
        envelope = open_envelope(raw, request.method, self._alipay_public_key)
        return OpenApiResponse.from_payload(
            request.method, envelope.payload, raw, is_error_response=envelope.is_error_response
        )

    async def download(self, url: str, *, timeout_seconds: float | None = None) -> bytes:
        """The bytes at `url` (a file an answer pointed to, e.g. a contract's `file_url`).
        Raises `TransportError` when it cannot be fetched whole."""
        timeout = timeout_seconds or self._settings.timeout_seconds
        try:
            async with self._ensure_session().get(
                url, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise TransportError(f"download timed out after {timeout}s", timed_out=True) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"download failed: {exc}") from exc
        if status != 200:
            raise TransportError(f"download answered HTTP {status}", status=status)
        return body

    @staticmethod
    def _body(request: SignedRequest) -> tuple[bytes, str]:
        """The HTTP body and its Content-Type: a form, or multipart/form-data with files."""
        if not request.files:
            return request.encoded_form(), FORM_CONTENT_TYPE
        return multipart_body(request.form, request.files)

    async def _post(self, request: SignedRequest, timeout_seconds: float) -> str:
        session = self._ensure_session()
        timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        data, content_type = self._body(request)
        try:
            async with session.post(
                request.url, data=data, headers={"Content-Type": content_type}, timeout=timeout
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise TransportError(
                f"{request.method} timed out after {timeout_seconds}s", timed_out=True
            ) from exc
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            # no connection was opened (refused, no route, DNS, TLS handshake): not a byte of
            # the request left; any later failure may come after Alipay read it
            raise RequestNotSentError(CONNECT_FAILED, f"{request.method} not sent: {exc}") from exc
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
