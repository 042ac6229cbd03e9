"""The flow-log buffer: records made outside business transactions wait here to be written.

Nodes that are true only if a transaction commits are written in that transaction
(`LedgerWork.write_flow`); every other node (a request's arrival and checks, a failed step, a
worker's result) is recorded here. Two promises (docs/ARCHITECTURE.md, "Flow log durability"):

* A request's answer waits until the records it made are written: `request_scope()` notes them
  and `durable(seq)` flushes up to them (the HTTP middleware in gateway/http/flow_durability.py). Other
  records are written by the flusher worker every flush interval.
* A record is never dropped: a flush that fails puts its records back, in order, for the next
  one, and is counted (`flush_failures`); `pending` and `written` are on /metrics.

On SQLite a flush is a job of the writer, so it shares the group commit of whatever else is
being written at that moment.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import functools
import logging
from collections.abc import Callable, Iterator

from core.flowlog import FlowRecord
from gateway.storage.sqlite_uow import write_flow
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.uow import SqlUnitOfWork

log = logging.getLogger("paygate.flowlog")


class RequestScope:
    """The records one request made: the sequence number of the last one (0: none)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = 0


_SCOPE: contextvars.ContextVar[RequestScope | None] = contextvars.ContextVar("flow_scope", default=None)


class FlowLogBuffer:
    def __init__(
        self, uow: Callable[[], SqlUnitOfWork], writer: SqliteWriter | None = None, batch_size: int = 2_000
    ) -> None:
        self._uow = uow
        self._writer = writer
        self.batch_size = batch_size  # records per write: one short job, however long the queue
        # (sequence number, record), oldest first; `_writing` is the batch being written
        self._pending: collections.deque[tuple[int, FlowRecord]] = collections.deque()
        self._writing: list[tuple[int, FlowRecord]] = []
        self._seq = 0
        self._lock = asyncio.Lock()
        # counters for /metrics
        self.written = 0
        self.flush_failures = 0

    def record(self, record: FlowRecord) -> None:
        self._seq += 1
        self._pending.append((self._seq, record))
        scope = _SCOPE.get()
        if scope is not None:
            scope.last = self._seq

    @property
    def pending(self) -> int:
        """Records recorded and not yet written (being written included)."""
        return len(self._pending) + len(self._writing)

    def __len__(self) -> int:
        return self.pending

    def durable_through(self) -> int:
        """Every record numbered up to this one is written."""
        waiting = self._writing or self._pending
        return waiting[0][0] - 1 if waiting else self._seq

    @contextlib.contextmanager
    def request_scope(self) -> Iterator[RequestScope]:
        """Notes the records made inside the block (the request's task and tasks it starts)."""
        scope = RequestScope()
        token = _SCOPE.set(scope)
        try:
            yield scope
        finally:
            _SCOPE.reset(token)

    async def durable(self, seq: int) -> None:
        """Returns once every record numbered up to `seq` is written; raises if a flush fails
        (the records stay for the next one)."""
        while self.durable_through() < seq:
            await self._flush_once(through=seq)

    async def flush(self) -> int:
        """Write every record recorded so far; returns how many. Raises if a write fails."""
        total, target = 0, self._seq
        while self.durable_through() < target:
            total += await self._flush_once(through=target)
        return total

    async def _flush_once(self, through: int) -> int:
        async with self._lock:
            # another flush may have written them while this one waited for the lock
            if self.durable_through() >= through or not self._pending:
                return 0
            count = min(self.batch_size, len(self._pending))
            self._writing = [self._pending.popleft() for _ in range(count)]
            records = [record for _, record in self._writing]
            try:
                await self._write(records)
            except Exception:
                # back in front, in order: retried by the next flush, never dropped
                self._pending.extendleft(reversed(self._writing))
                self.flush_failures += 1
                log.exception("flow log flush failed; %d records kept for retry", self.pending)
                raise
            finally:
                self._writing = []
            self.written += count
            return count

    async def _write(self, records: list[FlowRecord]) -> None:
        if self._writer is not None:
            # in a savepoint of its own: an executemany that fails half-way leaves no rows, so
            # the retry writes none twice
            await self._writer.run(functools.partial(write_flow, records=records))
            return
        async with self._uow() as uow:
            await uow.write_flow(records)
            await uow.commit()
