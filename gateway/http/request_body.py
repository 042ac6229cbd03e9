"""The one parser of JSON request bodies: strict JSON (no duplicate keys, no NaN), no control,
zero-width or bidi-control characters in any string, then the route's pydantic model."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from core.errors import InvalidArgument
from gateway.keys import raw_body

B = TypeVar("B", bound=BaseModel)

# refused in every string of a body: C0 controls (NUL, tab and newlines included), DEL and C1
# controls, zero-width characters, bidi controls, and lone surrogates (not text at all)
_ZERO_WIDTH = {0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF}
_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_REFUSED = frozenset({*range(0x00, 0x20), *range(0x7F, 0xA0), *_ZERO_WIDTH, *_BIDI, *range(0xD800, 0xE000)})
# the same set as one character class: a string is searched in C, not character by character
REFUSED_CHARACTER = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_REFUSED)) + "]")


def plain_number(text: str, max_digits: int) -> bool:
    """Whether `text` is ASCII digits only, at most `max_digits` of them: `int()` takes other
    scripts' digits too, and past 4,300 digits it fails."""
    return text.isascii() and text.isdigit() and len(text) <= max_digits


def bearer_token(request: web.Request) -> str:
    """The token of an `Authorization: Bearer <token>` header, or "" without one."""
    header = header_text(request.headers.get("Authorization"))
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""


def header_text(value: str | None) -> str:
    """A header's or cookie's value as text, or "" when it holds a refused character: a byte that
    was not UTF-8 arrives as a lone surrogate, which nothing can hash, sign, store or send back."""
    return "" if value is None or REFUSED_CHARACTER.search(value) else value


async def parse_body(request: web.Request, model: type[B], *, empty_is_object: bool = False) -> B:
    """The request's body as `model`; `empty_is_object`: an empty body means `{}`.

    The model speaks first (an amount with a newline is an INVALID_AMOUNT), then every string
    of the document, including those the model keeps as raw JSON (payout items)."""
    raw = await raw_body(request)
    if empty_is_object and not raw.strip():
        raw = b"{}"
    document = load_json(raw)
    body = model.model_validate_json(raw)
    check_text(document)
    return body


def load_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, each key once per object, no NaN or Infinity."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("the body is not UTF-8 text", code="INVALID_JSON") from None
    try:
        return _STRICT.decode(text)
    except RecursionError:
        raise InvalidArgument(
            "the body nests arrays and objects too deeply; no request here nests more than a few levels",
            code="INVALID_JSON",
        ) from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise InvalidArgument(
                f"the key {key!r} appears more than once in one object; send each field once",
                field=key,
                code="DUPLICATE_JSON_KEY",
            )
        obj[key] = value
    return obj


# Python's own limit on converting digits to an integer (sys.get_int_max_str_digits()): a longer
# one made json.loads fail with a ValueError of its own. Shorter ones reach the model, which
# names the field that cannot take them (a payout batch refuses that item alone).
MAX_INTEGER_DIGITS = 4300


def _integer(digits: str) -> int:
    """A JSON integer; one longer than Python converts is refused as no JSON this API reads."""
    length = len(digits.lstrip("-"))
    if length > MAX_INTEGER_DIGITS:
        raise InvalidArgument(
            f"a number in the body has {length} digits: more than "
            f"{MAX_INTEGER_DIGITS} is no number this API reads",
            code="INVALID_JSON",
        )
    return int(digits)


def _no_constant(name: str) -> Any:
    raise InvalidArgument(f"{name} is not JSON; send numbers as decimal strings", code="INVALID_JSON")


# made once: json.loads with hooks builds a new decoder (and its scanner) for every call
_STRICT = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_no_constant, parse_int=_integer)


def check_text(value: Any, path: str = "") -> None:
    """Refuse the first string (value or key) holding a refused character, naming its field.
    Walked in document order with a stack of its own: a body nested as deep as the JSON parser
    takes must not exhaust Python's."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            _check_string(item, where)
        elif isinstance(item, list):
            pending.extend((inner, f"{where}[{i}]") for i, inner in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                field = f"{where}.{key}" if where else key
                pending += [(inner, field), (key, field)]  # the key is checked first, then its value


# The longest path parameter (an id, a channel's code): every id here is shorter, and the
# columns that keep one (an audit record's subject) hold 64 characters.
MAX_PATH_PARAMETER = 64


def check_address(request: web.Request) -> None:
    """Refuse a request whose path or query holds a refused character, naming where: such a
    text names nothing here, and PostgreSQL cannot even compare a text holding NUL; and a path
    parameter longer than any id (which PostgreSQL would refuse to record in the audit log)."""
    _check_string(request.path, "path")
    for key, value in request.query.items():
        _check_string(key, "query")
        _check_string(value, key)
    for name, value in request.match_info.items():
        if len(value) > MAX_PATH_PARAMETER:
            raise InvalidArgument(
                f"{name} is {len(value)} characters long: no {name} here is longer than {MAX_PATH_PARAMETER}",
                field=name,
            )


def check_form(form: Any) -> None:
    """Refuse the first text field of a posted form holding a refused character, naming it."""
    for key, value in form.items():
        if isinstance(value, str):
            _check_string(value, key)


def _check_string(text: str, field: str) -> None:
    found = REFUSED_CHARACTER.search(text)
    if found is None:
        return
    bad = found.group()
    name = unicodedata.name(bad, "a control character")
    raise InvalidArgument(
        f"{field or 'the body'} contains {name} (U+{ord(bad):04X}); remove control, zero-width "
        "and bidi-control characters",
        field=field or None,
        code="INVALID_CHARACTERS",
    )
