"""Retrying a read-decide-save step whose conditional update was lost to a concurrent writer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.errors import Conflict
from ports.storage import ConcurrentUpdate

T = TypeVar("T")

ATTEMPTS = 3
"""How often a step is tried before the conflict is reported."""


async def retry_on_conflict(
    step: Callable[[], Awaitable[T]], subject_id: str, *, attempts: int = ATTEMPTS
) -> T:
    """Run `step` (which reads the subject again, decides and saves it under a version or status
    check) until it is not refused with ConcurrentUpdate; after `attempts` refusals raise
    a Conflict (409 `CONCURRENT_UPDATE`): the subject keeps changing, the caller may try later."""
    for _ in range(attempts):
        try:
            return await step()
        except ConcurrentUpdate:
            continue
    raise Conflict(
        f"{subject_id} was changed concurrently {attempts} times; try again", code="CONCURRENT_UPDATE"
    )
