"""Storage and notifier ports: what the core's use cases need from persistence and delivery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from core.flowlog import FlowRecord
from core.ledger import Posting
from core.payment import Payment


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None:
        """Insert; raises DuplicateRequest when (app_id, out_request_no) exists."""
        ...

    async def get(self, payment_id: str) -> Payment | None: ...

    async def get_for_update(self, payment_id: str) -> Payment | None: ...

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None: ...

    async def save(self, payment: Payment, *, expected_status: str) -> None:
        """Update; raises ConcurrentUpdate when the stored status is no longer expected."""
        ...


class Ledger(Protocol):
    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        """Apply a balanced set of postings atomically; raises InsufficientFunds. Returns txn id."""
        ...


class Outbox(Protocol):
    async def enqueue(self, app_id: str, event_type: str, payload: dict[str, Any], *, at: datetime) -> str:
        ...


class FlowLogSink(Protocol):
    def record(self, record: FlowRecord) -> None:
        """Buffer a record; written outside the business transaction."""
        ...


class DuplicateRequest(Exception):
    """The (app_id, out_request_no) pair is taken."""


class ConcurrentUpdate(Exception):
    """Someone else changed the row first; reload and decide again."""
