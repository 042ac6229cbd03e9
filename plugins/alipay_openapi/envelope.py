"""The signed envelope of an OpenAPI answer: find the raw `*_response` text, verify, then parse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from plugins.alipay_openapi.errors import MalformedResponseError, ResponseSignatureError
from plugins.alipay_openapi.signing import PublicKey, verify_content

ERROR_RESPONSE_KEY = "error_response"
_WHITESPACE = " \t\r\n"


def response_key(method: str) -> str:
    """`alipay.fund.trans.uni.transfer` -> `alipay_fund_trans_uni_transfer_response`."""
    return method.replace(".", "_") + "_response"


@dataclass(frozen=True, slots=True)
class SignedEnvelope:
    """The raw, unparsed parts of an answer: `content` is the exact text that was signed."""

    key: str
    content: str
    sign: str | None


@dataclass(frozen=True, slots=True)
class VerifiedEnvelope:
    """An answer whose signature verified; `payload` is parsed from the verified text."""

    key: str
    content: str
    payload: dict[str, Any]

    @property
    def is_error_response(self) -> bool:
        return self.key == ERROR_RESPONSE_KEY


def _skip_whitespace(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _string_end(text: str, pos: int) -> int:
    """Index just past the JSON string opening at `pos` (backslash escapes honoured)."""
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if char == '"':
            return pos + 1
        pos += 1
    raise MalformedResponseError("unterminated string in response body")


def _value_end(text: str, pos: int) -> int:
    """Index just past the JSON value starting at `pos`, matching brackets outside strings."""
    if pos >= len(text):
        raise MalformedResponseError("response body ends where a value was expected")
    char = text[pos]
    if char == '"':
        return _string_end(text, pos)
    if char in "{[":
        depth = 0
        while pos < len(text):
            char = text[pos]
            if char == '"':
                pos = _string_end(text, pos)
                continue
            if char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth == 0:
                    return pos + 1
            pos += 1
        raise MalformedResponseError("unbalanced brackets in response body")
    start = pos
    while pos < len(text) and text[pos] not in ",}]" + _WHITESPACE:
        pos += 1
    if pos == start:
        raise MalformedResponseError(f"unexpected {char!r} in response body")
    return pos


def top_level_members(body: str) -> dict[str, str]:
    """The raw text of each member of the top-level JSON object, keyed by member name.

    Nothing is re-serialised: each value is the exact substring of `body`. A repeated member
    name makes the envelope ambiguous and is refused.
    """
    pos = _skip_whitespace(body, 0)
    if pos >= len(body) or body[pos] != "{":
        raise MalformedResponseError("response body is not a JSON object")
    members: dict[str, str] = {}
    pos = _skip_whitespace(body, pos + 1)
    if pos < len(body) and body[pos] == "}":
        return members
    while True:
        if pos >= len(body) or body[pos] != '"':
            raise MalformedResponseError("expected a member name in response body")
        name_end = _string_end(body, pos)
        try:
            name = json.loads(body[pos:name_end])
        except ValueError as exc:
            raise MalformedResponseError("invalid member name in response body") from exc
        pos = _skip_whitespace(body, name_end)
        if pos >= len(body) or body[pos] != ":":
            raise MalformedResponseError("expected ':' in response body")
        pos = _skip_whitespace(body, pos + 1)
        value_end = _value_end(body, pos)
        if name in members:
            raise MalformedResponseError(f"member {name!r} appears twice in response body")
        members[name] = body[pos:value_end]
        pos = _skip_whitespace(body, value_end)
        if pos < len(body) and body[pos] == ",":
            pos = _skip_whitespace(body, pos + 1)
            continue
        if pos < len(body) and body[pos] == "}":
            if _skip_whitespace(body, pos + 1) != len(body):
                raise MalformedResponseError("trailing text after the response object")
            return members
        raise MalformedResponseError("expected ',' or '}' in response body")


def extract_envelope(body: str, method: str) -> SignedEnvelope:
    """The raw `<method>_response` value (or `error_response`) and the `sign` of an answer."""
    members = top_level_members(body)
    key = response_key(method)
    if key not in members:
        key = ERROR_RESPONSE_KEY
    content = members.get(key)
    if content is None:
        raise MalformedResponseError(f"answer has neither {response_key(method)!r} nor {key!r}")
    if not content.startswith("{"):
        raise MalformedResponseError(f"{key!r} is not a JSON object")
    sign: str | None = None
    raw_sign = members.get("sign")
    if raw_sign is not None:
        try:
            decoded = json.loads(raw_sign)
        except ValueError as exc:
            raise MalformedResponseError("'sign' is not valid JSON") from exc
        if decoded is not None and not isinstance(decoded, str):
            raise MalformedResponseError("'sign' is not a string")
        sign = decoded or None
    return SignedEnvelope(key=key, content=content, sign=sign)


def open_envelope(body: str, method: str, alipay_public_key: PublicKey) -> VerifiedEnvelope:
    """Verify the answer's signature over the raw response text, and only then parse it.

    Raises `ResponseSignatureError` when the sign is missing or wrong (even for error
    answers: an unsigned answer cannot be trusted) and `MalformedResponseError` when the body
    is not an envelope.
    """
    envelope = extract_envelope(body, method)
    if envelope.sign is None:
        raise ResponseSignatureError(f"answer to {method} carries no signature")
    if not verify_content(envelope.content, envelope.sign, alipay_public_key):
        raise ResponseSignatureError(f"answer to {method} failed signature verification")
    try:
        payload = json.loads(envelope.content)
    except ValueError as exc:
        raise MalformedResponseError(f"{envelope.key!r} is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedResponseError(f"{envelope.key!r} is not a JSON object")
    return VerifiedEnvelope(key=envelope.key, content=envelope.content, payload=payload)
