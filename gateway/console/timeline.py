"""A flow log drawn as a timeline: each node in time order with its time, the time since the
node before, and its outcome's colour class."""

from __future__ import annotations

from datetime import datetime
from typing import Any

_OUTCOME_CLASSES = {"ok": "ok", "failed": "bad", "pending": "warn"}


def outcome_class(outcome: str | None) -> str:
    return _OUTCOME_CLASSES.get((outcome or "").lower(), "info")


def took(seconds: float) -> str:
    """A duration as people read it: 120 ms, 3.4 s, 5 min 2 s, 2 h 5 min."""
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def timeline(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records in time order, each with `since` (after the one before) and `css`."""
    drawn: list[dict[str, Any]] = []
    before: datetime | None = None
    for record in sorted(records, key=lambda r: r["at"]):
        at = datetime.fromisoformat(record["at"])
        since = None if before is None else took(max((at - before).total_seconds(), 0.0))
        drawn.append({**record, "since": since, "css": outcome_class(record.get("outcome"))})
        before = at
    return drawn
