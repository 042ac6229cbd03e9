"""The flow-log flusher: writes the buffered flow-log records outside business transactions."""

from __future__ import annotations

import asyncio

from gateway.flowbuffer import FlowLogBuffer
from gateway.workers.loop import run_periodically


class FlowLogFlusher:
    """Flushes the flow-log buffer (seed 002 §5: the flow log is written outside the business
    transaction, buffered and flushed); a failed flush keeps its records for the next round."""

    def __init__(self, flow: FlowLogBuffer) -> None:
        self.flow = flow

    async def run_once(self) -> int:
        return await self.flow.flush()

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        await run_periodically("flow-flush", interval, self.run_once, stop)
