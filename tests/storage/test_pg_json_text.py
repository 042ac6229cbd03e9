"""The JSON text of the PostgreSQL payment path's parameters (`pg_rows.json_text`, orjson with
the standard library behind it) holds what json.dumps would, and refuses what it refuses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.storage.pg_rows import json_text

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # beyond 64 bits too
    | st.text()  # lone surrogates included
)
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(_values)
def test_it_reads_back_as_what_json_dumps_writes(value: Any) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_it_is_compact_text() -> None:
    assert json_text([{"a": 1, "b": "中"}, None]) == '[{"a":1,"b":"中"},null]'


def test_keys_json_dumps_writes_as_text_are_written_so() -> None:
    assert json.loads(json_text({1: "a", 2.5: "b", None: "c"})) == {"1": "a", "2.5": "b", "null": "c"}


@dataclass
class _Shape:
    x: int


@pytest.mark.parametrize(
    "value", [Decimal("1.5"), datetime(2026, 1, 1, tzinfo=UTC), {"nested": _Shape(1)}, {(1,): "key"}]
)
def test_what_json_dumps_refuses_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        json_text(value)
