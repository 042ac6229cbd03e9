"""How the sandbox gateway reads a request: its parameters from the query string and the body,
and the gateway-level refusal of a request it cannot read."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web


def gateway_error(code: str, msg: str, sub_code: str, sub_msg: str) -> dict[str, Any]:
    """A gateway-level refusal (40001 missing parameter, 40002 invalid parameter, ...)."""
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


class ParamError(Exception):
    """A request the gateway refuses before any handler sees it; `payload` is its answer."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("sub_code"))
        self.payload = payload


def _charset_of(content_type: str, fallback: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return fallback


def _parse_pairs(text: str, charset: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except (LookupError, UnicodeDecodeError) as exc:
        raise ParamError(
            gateway_error("40002", "Invalid Arguments", "isv.invalid-charset", "字符集错误")
        ) from exc


def url_params(url: str) -> dict[str, str]:
    """The parameters of a page URL (what the gateway reads when the user opens it)."""
    raw_query = urlsplit(url).query
    charset = dict(parse_qsl(raw_query, encoding="latin-1")).get("charset") or "utf-8"
    return dict(_parse_pairs(raw_query, charset))


async def read_params(request: web.Request) -> dict[str, str]:
    """The request's parameters from the query string, the form body, or both."""
    raw_query = request.rel_url.raw_query_string
    charset = dict(parse_qsl(raw_query, encoding="latin-1")).get("charset") or "utf-8"
    pairs = _parse_pairs(raw_query, charset)
    if request.method == "POST" and request.can_read_body:
        content_type = request.headers.get("Content-Type", "")
        if content_type.lower().startswith("application/x-www-form-urlencoded"):
            body = (await request.read()).decode("ascii", "replace")
            pairs += _parse_pairs(body, _charset_of(content_type, charset))
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params and params[key] != value:
            raise ParamError(
                gateway_error("40002", "Invalid Arguments", "isv.invalid-parameter", f"参数{key}重复且不一致")
            )
        params[key] = value
    return params
