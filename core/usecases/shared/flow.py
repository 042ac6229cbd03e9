"""Recording flow-log nodes (written outside the business transactions) on the use cases' clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import utcnow
from ports.storage import FlowLogSink


class FlowTrail:
    """Builds flow-log records of a subject and records them through the sink. A record is
    stamped `at` when given (so the nodes of one step share one clock reading), else now."""

    def __init__(self, sink: FlowLogSink, clock: Callable[[], datetime] = utcnow) -> None:
        self.sink = sink
        self.clock = clock

    def node(
        self,
        subject_id: str,
        node: FlowNode,
        outcome: FlowOutcome = FlowOutcome.OK,
        message: str = "",
        *,
        actor: str | None = None,
        at: datetime | None = None,
        **detail: Any,
    ) -> FlowRecord:
        """The record of one node, not yet recorded (see `emit`)."""
        return FlowRecord(subject_id, node, outcome, at or self.clock(), message, detail, actor)

    def record(
        self,
        subject_id: str,
        node: FlowNode,
        outcome: FlowOutcome = FlowOutcome.OK,
        message: str = "",
        *,
        actor: str | None = None,
        at: datetime | None = None,
        **detail: Any,
    ) -> None:
        """Record one node of the subject."""
        self.sink.record(self.node(subject_id, node, outcome, message, actor=actor, at=at, **detail))

    def emit(self, records: Iterable[FlowRecord]) -> None:
        """Record nodes built earlier (e.g. inside a transaction, once it committed)."""
        for record in records:
            self.sink.record(record)
