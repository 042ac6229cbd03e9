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


def test_the_payment_paths_rows_are_written_by_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard library is only the fallback: the rows of a transfer (its payment, transfer
    log, flow nodes, deferred settlement, outbox event) must not need it."""
    from core.flowlog import FlowNode, FlowOutcome, FlowRecord
    from gateway.storage import pg_rows
    from gateway.storage.rows import flow_rows

    def no_fallback(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("json_text fell back to json.dumps")

    monkeypatch.setattr(pg_rows.json, "dumps", no_fallback)
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    record = FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, at, "accepted", {"app_id": "shop"})
    flow = json.loads(pg_rows.FLOW.json_rows(flow_rows([record, record])))
    assert [row["node"] for row in flow] == [FlowNode.ACCEPTED.value] * 2
    assert flow[0]["detail"] == {"app_id": "shop"} and flow[0]["at"] == at.isoformat()
    transfer = {
        "payment_id": "pay_1",
        "ledger_txn_id": "txn_1",
        "payer_account": "acc_a",
        "payee_account": "acc_b",
        "amount_minor": 1500,
        "currency": "CNY",
        "created_at": at,
    }
    (written,) = json.loads(pg_rows.TRANSFER.json_rows([transfer]))
    assert written["amount_minor"] == 1500 and written["payment_id"] == "pay_1"
    event = {
        "id": "evt_1",
        "app_id": "shop",
        "event_type": "payment.succeeded",
        "subject_id": "pay_1",
        "payload": {"amount": "15.00"},
        "created_at": at,
    }
    (queued,) = json.loads(pg_rows.OUTBOX.json_rows([event]))
    assert queued["payload"] == {"amount": "15.00"}
