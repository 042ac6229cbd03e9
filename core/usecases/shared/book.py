"""What the use cases of every stateful workflow share: their transactions (and a factory for
reads, a replica or the same), the flow log with a `FlowTrail` on the use cases' clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.ids import utcnow
from core.usecases.shared.flow import FlowTrail
from ports.storage import FlowLogSink, UnitOfWorkFactory


class WorkflowBook:
    """Transactions, reads, the flow log and the clock of one workflow's use cases; flow nodes
    are recorded through `trail` (`trail.record` now, `trail.node` to build one for later)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        flow: FlowLogSink,
        *,
        reads: UnitOfWorkFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.reads = reads or uow
        self.flow = flow
        self.clock = clock
        self.trail = FlowTrail(flow, clock)
