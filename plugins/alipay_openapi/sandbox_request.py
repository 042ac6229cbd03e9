"""How the sandbox gateway reads a request: its parameters from the query string and the body,
its files (a multipart upload), and the gateway-level refusal of a request it cannot read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import BodyPartReader, hdrs, web


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


@dataclass(frozen=True, slots=True)
class SandboxFile:
    """A file part of a multipart request."""

    file_name: str
    content: bytes = field(repr=False)
    content_type: str


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What a request carries: its text parameters (query string and body) and its files."""

    params: dict[str, str]
    files: dict[str, SandboxFile]


def _invalid(sub_code: str, sub_msg: str) -> ParamError:
    return ParamError(gateway_error("40002", "Invalid Arguments", sub_code, sub_msg))


async def _multipart(
    request: web.Request, charset: str
) -> tuple[list[tuple[str, str]], dict[str, SandboxFile]]:
    """The text fields and the files of a multipart/form-data body: a part with a file name
    is a file, any other a text parameter in the part's charset (else the request's)."""
    pairs: list[tuple[str, str]] = []
    files: dict[str, SandboxFile] = {}
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader) or not part.name:
            raise _invalid("isv.invalid-parameter", "multipart部分缺少名称")
        content = bytes(await part.read())
        if part.filename is not None:
            if part.name in files:
                raise _invalid("isv.invalid-parameter", f"文件{part.name}重复")
            content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            files[part.name] = SandboxFile(part.filename, content, content_type)
            continue
        try:
            pairs.append((part.name, content.decode(part.get_charset(charset))))
        except (LookupError, UnicodeDecodeError) as exc:
            raise _invalid("isv.invalid-charset", "字符集错误") from exc
    return pairs, files


async def read_request(request: web.Request) -> ReadRequest:
    """The request's parameters from the query string, the body (a form, or multipart with
    files), or both; a parameter given twice with different values is refused."""
    raw_query = request.rel_url.raw_query_string
    charset = dict(parse_qsl(raw_query, encoding="latin-1")).get("charset") or "utf-8"
    pairs = _parse_pairs(raw_query, charset)
    files: dict[str, SandboxFile] = {}
    if request.method == "POST" and request.can_read_body:
        content_type = request.headers.get("Content-Type", "")
        if content_type.lower().startswith("application/x-www-form-urlencoded"):
            body = (await request.read()).decode("ascii", "replace")
            pairs += _parse_pairs(body, _charset_of(content_type, charset))
        elif content_type.lower().startswith("multipart/form-data"):
            fields, files = await _multipart(request, charset)
            pairs += fields
    params: dict[str, str] = {}
    for key, value in pairs:
        if (key in params and params[key] != value) or key in files:
            raise _invalid("isv.invalid-parameter", f"参数{key}重复且不一致")
        params[key] = value
    return ReadRequest(params, files)
