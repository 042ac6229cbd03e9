"""The body parser's refused characters (gateway/http/request_body.py): the character class it
searches with is exactly the set it documents, over every code point."""

from __future__ import annotations

import pytest

from core.errors import InvalidArgument
from gateway.http.request_body import _REFUSED, REFUSED_CHARACTER, check_text


def test_the_search_refuses_exactly_the_refused_set() -> None:
    found = {c for c in range(0x110000) if REFUSED_CHARACTER.search(chr(c))}
    assert found == _REFUSED


@pytest.mark.parametrize("text", ["ok\u200bnot", "tab\there", "\u202eevil", "lone \ud800", "del\x7f"])
def test_a_string_with_one_is_refused_naming_its_field(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_text({"items": [{"memo": "fine 中文"}, {"memo": text}]})
    assert refused.value.field == "items[1].memo"


def test_printable_text_of_any_script_passes() -> None:
    check_text({"memo": "租金 three 月 — ü ñ 🙂", "name": "李雷"})
