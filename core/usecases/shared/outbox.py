"""Publishing an event to an app through the outbox, in the transaction that made the change.

The outbox stores the envelope `{"event_id", "event_type", **payload}` that the webhook posts;
the event types and their payloads are listed in `core.events`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.events import EventType
from ports.storage import LedgerWork


async def publish(
    uow: LedgerWork, app_id: str, event: EventType, subject_id: str, payload: dict[str, Any], *, at: datetime
) -> str | None:
    """Queue `event` about `subject_id` to `app_id` in `uow`'s transaction; the event id, or None
    when the app takes no notifications."""
    return await uow.outbox.enqueue(app_id, event.value, subject_id, payload, at=at)
