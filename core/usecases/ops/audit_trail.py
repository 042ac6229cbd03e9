"""An operator action's audit record, written before the action runs and given its outcome after.

Written first (outcome `started`), so that no action can happen without a record of it: when the
record cannot be written the action is refused, and when the process stops during the action the
record stays `started` (the action may or may not have happened: its subject says which). The
outcome is written after; if that write fails, the action's answer is not lost (it is logged).
"""

from __future__ import annotations

import dataclasses
import logging

from core.approvals.model import STARTED, AuditEntry
from ports.approvals import AuditLog

log = logging.getLogger("paygate.audit")


class AuditTrail:
    """`begin()` before the action (its failure refuses the action), `end(outcome)` after."""

    def __init__(self, audit_log: AuditLog, entry: AuditEntry) -> None:
        self.audit_log = audit_log
        self.entry = dataclasses.replace(entry, outcome=STARTED)
        self.ended = False

    async def begin(self) -> None:
        await self.audit_log.record(self.entry)

    async def end(self, outcome: str, note: str | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            finished = await self.audit_log.finish(self.entry.id, outcome, note or self.entry.note)
        except Exception:  # the action happened: a failed audit write is loud, never a lost answer
            log.exception(
                "audit outcome not written (the record stays started)",
                extra={
                    "audit_action": self.entry.action,
                    "operator": self.entry.operator,
                    "outcome": outcome,
                },
            )
            return
        if not finished:
            log.error("audit record to finish was not found started", extra={"audit_id": self.entry.id})
