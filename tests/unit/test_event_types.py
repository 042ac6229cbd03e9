"""The outbox event types: all defined in core/events.py, documented in docs/API.md's webhook
table row for row, and no other event type queued anywhere in the product code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from source_trees import ROOT, walk_product

from core.events import PAYMENT_EVENT_OF_STATUS, PAYOUT_EVENT_OF_STATUS, EventType, webhook_table
from core.payments.model import FINAL_STATUSES
from core.payouts.model import FINAL_PAYOUT_STATUSES
from ports.lease import LeaseEventKind

EVENT_LIKE = re.compile(r"^(payment|bill|payout|lease)\.[a-z_]+$")
OUTBOX_HELPER = Path("core/usecases/shared/outbox.py")
# inbound: the kinds of a lease channel's verified callbacks, not events sent to apps
INBOUND_KINDS = {kind.value for kind in LeaseEventKind}


def test_the_api_doc_webhook_table_is_the_one_core_events_renders() -> None:
    doc = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    assert webhook_table() in doc, "paste core.events.webhook_table() into docs/API.md:\n" + webhook_table()
    for event in EventType:
        assert f"`{event.value}`" in doc


def test_the_api_doc_table_lists_no_event_core_events_lacks() -> None:
    doc = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_.]+)` \|", doc, flags=re.MULTILINE)
    documented = {row for row in rows if EVENT_LIKE.match(row)}
    assert documented == {event.value for event in EventType}


def test_every_event_has_a_meaning_and_a_payload() -> None:
    for event in EventType:
        assert event.meaning and event.payload and "subject" in event.payload


def test_every_final_payment_and_payout_status_has_its_event() -> None:
    assert set(PAYMENT_EVENT_OF_STATUS) == set(FINAL_STATUSES)
    assert set(PAYOUT_EVENT_OF_STATUS) == set(FINAL_PAYOUT_STATUSES)
    for status, event in [*PAYMENT_EVENT_OF_STATUS.items(), *PAYOUT_EVENT_OF_STATUS.items()]:
        assert event.value.endswith(f".{status.value}")


def test_only_the_shared_outbox_helper_enqueues_events() -> None:
    callers = {
        str(path)
        for path, node in walk_product()
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "enqueue"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "outbox"
    }
    assert callers == {str(OUTBOX_HELPER)}


def test_no_event_type_is_spelled_outside_core_events() -> None:
    """An event type string anywhere else (a literal, or an f-string building one) would be an
    event core/events.py does not list."""
    spelled = []
    for path, node in walk_product():
        if path == Path("core/events.py"):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if EVENT_LIKE.match(node.value) and node.value not in INBOUND_KINDS:
                spelled.append(f"{path}:{node.lineno} {node.value}")
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and re.match(
                r"^(payment|bill|payout|lease)\.", str(head.value)
            ):
                spelled.append(f"{path}:{node.lineno} {ast.unparse(node)}")
    assert spelled == []
