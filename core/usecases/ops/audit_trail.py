"""An operator action's audit record, written before the action runs and given its outcome after.

Written first (outcome `started`), so that no action can happen without a record of it: when the
record cannot be written the action is refused (AuditUnavailable, 503), and when the process
stops during the action the record stays `started` (the action may or may not have happened: its
subject says which). The outcome is written after; if that write fails, the action's answer is
not lost (it is logged). The /ops routes, the console's actions and the operators CLI all record
their actions so.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.approvals.model import STARTED, AuditEntry
from core.errors import DomainError
from ports.approvals import AuditLog

log = logging.getLogger("paygate.audit")
T = TypeVar("T")


class AuditUnavailable(DomainError):
    code = "AUDIT_UNAVAILABLE"
    http_status = 503


class AuditTrail:
    """`begin()` before the action (AuditUnavailable when the record cannot be written: the
    action must not run), `end(outcome)` after."""

    def __init__(self, audit_log: AuditLog, entry: AuditEntry) -> None:
        self.audit_log = audit_log
        self.entry = dataclasses.replace(entry, outcome=STARTED)

    async def begin(self) -> None:
        try:
            await self.audit_log.record(self.entry)
        except Exception as exc:  # no record, no action
            log.exception(
                "audit record not written: the action is refused", extra={"audit_action": self.entry.action}
            )
            raise AuditUnavailable(
                "the action could not be recorded in the audit log: nothing was done; repeat it"
            ) from exc

    async def end(self, outcome: str, note: str | None = None) -> None:
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


async def run_audited(
    trail: AuditTrail, action: Callable[[], Awaitable[T]], outcome_of: Callable[[T], str] = lambda _: "ok"
) -> T:
    """`action()` between the trail's begin and end: `refused:<CODE>` for a refusal, `error`
    for anything else that ends it, else `outcome_of` its result."""
    await trail.begin()
    try:
        done = await action()
    except DomainError as exc:
        await trail.end(f"refused:{exc.code}")
        raise
    except BaseException:
        await trail.end("error")
        raise
    await trail.end(outcome_of(done))
    return done
