"""A verified OpenAPI answer, typed: its codes, its body, and what a failure tells the caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from plugins.alipay_openapi.codes import GatewayCode, SubCodeClass, classify_sub_code
from plugins.alipay_openapi.errors import MalformedResponseError, OpenApiError

__all__ = ["OpenApiResponse"]


@dataclass(frozen=True, slots=True)
class OpenApiResponse:
    """A verified answer. `body` is the parsed `*_response` object, `raw` the whole HTTP body."""

    method: str
    code: str
    msg: str
    sub_code: str | None
    sub_msg: str | None
    body: Mapping[str, Any]
    raw: str
    is_error_response: bool = False

    @property
    def is_success(self) -> bool:
        return self.code == GatewayCode.SUCCESS

    @property
    def gateway_code(self) -> GatewayCode | None:
        return GatewayCode.parse(self.code)

    @property
    def classification(self) -> SubCodeClass | None:
        """None for a success; otherwise what the failure tells the caller to do."""
        if self.is_success:
            return None
        return classify_sub_code(self.sub_code, self.code)

    def get(self, name: str) -> str | None:
        """A string member of the answer, None when absent or empty."""
        value = self.body.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    def raise_for_code(self) -> None:
        if not self.is_success:
            raise OpenApiError(
                f"{self.method} answered {self.code} {self.msg}: {self.sub_code} {self.sub_msg}",
                code=self.code,
                sub_code=self.sub_code,
                sub_msg=self.sub_msg,
            )

    @classmethod
    def from_payload(
        cls, method: str, payload: Mapping[str, Any], raw: str, *, is_error_response: bool
    ) -> OpenApiResponse:
        def text(name: str) -> str | None:
            value = payload.get(name)
            return None if value is None or value == "" else str(value)

        code = text("code")
        if code is None:
            raise MalformedResponseError(f"answer to {method} has no code")
        return cls(
            method=method,
            code=code,
            msg=text("msg") or "",
            sub_code=text("sub_code"),
            sub_msg=text("sub_msg"),
            body=MappingProxyType(dict(payload)),
            raw=raw,
            is_error_response=is_error_response,
        )
