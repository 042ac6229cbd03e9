"""publish: an event type from core.events queued through the unit of work's outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from core.events import EventType
from core.usecases.shared.outbox import publish
from ports.storage import UnitOfWork

T0 = datetime(2026, 1, 2, tzinfo=UTC)


class Outbox:
    def __init__(self, quiet_apps: frozenset[str] = frozenset()) -> None:
        self.queued: list[tuple[str, str, str, dict[str, Any], datetime]] = []
        self.quiet_apps = quiet_apps

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], *, at: datetime
    ) -> str | None:
        if app_id in self.quiet_apps:
            return None
        self.queued.append((app_id, event_type, subject_id, payload, at))
        return f"evt_{len(self.queued)}"


class Uow:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox


async def test_the_event_is_queued_with_its_type_subject_payload_and_moment() -> None:
    outbox = Outbox()
    uow = cast(UnitOfWork, Uow(outbox))
    event_id = await publish(
        uow, "app_a", EventType.BILL_COMPLETED, "bil_1", {"bill": {"id": "bil_1"}}, at=T0
    )
    assert event_id == "evt_1"
    assert outbox.queued == [("app_a", "bill.completed", "bil_1", {"bill": {"id": "bil_1"}}, T0)]
    assert type(outbox.queued[0][1]) is str  # stored as the plain string, not the enum


async def test_an_app_without_notifications_gets_nothing_queued() -> None:
    outbox = Outbox(quiet_apps=frozenset({"app_quiet"}))
    uow = cast(UnitOfWork, Uow(outbox))
    assert await publish(uow, "app_quiet", EventType.PAYMENT_FAILED, "pay_1", {}, at=T0) is None
    assert outbox.queued == []
