"""The flow-log buffer: records collect in memory and are flushed outside business transactions."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from core.flowlog import FlowRecord
from gateway.storage.sqlite_uow import write_flow
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.uow import SqlUnitOfWork

log = logging.getLogger("paygate.flowlog")


class FlowLogBuffer:
    def __init__(
        self, uow: Callable[[], SqlUnitOfWork], writer: SqliteWriter | None = None, max_buffer: int = 10_000
    ) -> None:
        self._uow = uow
        self._writer = writer
        self._pending: list[FlowRecord] = []
        self._lock = asyncio.Lock()
        self.max_buffer = max_buffer

    def record(self, record: FlowRecord) -> None:
        self._pending.append(record)

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                if self._writer is not None:
                    await self._writer.run(functools.partial(write_flow, records=batch))
                else:
                    async with self._uow() as uow:
                        await uow.write_flow(batch)
                        await uow.commit()
            except Exception:
                # keep them for the next flush; the log must not be lost to a passing fault
                self._pending[:0] = batch[-self.max_buffer :]
                log.exception("flow log flush failed; %d records kept for retry", len(batch))
                raise
            return len(batch)
