"""retry_on_conflict: a step refused by a concurrent writer runs again, a bounded number of times."""

from __future__ import annotations

import pytest

from core.errors import Conflict, NotFound
from core.usecases.shared.conflicts import ATTEMPTS, retry_on_conflict
from ports.storage import ConcurrentUpdate


class Step:
    """Loses the first `losses` races, then answers how many runs it took."""

    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.runs = 0

    async def __call__(self) -> int:
        self.runs += 1
        if self.runs <= self.losses:
            raise ConcurrentUpdate("subj_1")
        return self.runs


async def test_a_step_that_wins_at_once_runs_once() -> None:
    step = Step(losses=0)
    assert await retry_on_conflict(step, "subj_1") == 1


async def test_a_lost_race_runs_the_step_again() -> None:
    step = Step(losses=ATTEMPTS - 1)
    assert await retry_on_conflict(step, "subj_1") == ATTEMPTS


async def test_losing_every_attempt_is_a_conflict_after_the_bounded_runs() -> None:
    step = Step(losses=ATTEMPTS)
    with pytest.raises(Conflict) as raised:
        await retry_on_conflict(step, "subj_1")
    assert (
        step.runs == ATTEMPTS and raised.value.code == "CONCURRENT_UPDATE" and raised.value.http_status == 409
    )
    assert "subj_1" in raised.value.message


async def test_the_number_of_attempts_can_be_chosen() -> None:
    step = Step(losses=5)
    assert await retry_on_conflict(step, "subj_1", attempts=6) == 6


async def test_other_errors_are_not_retried() -> None:
    runs = 0

    async def missing() -> None:
        nonlocal runs
        runs += 1
        raise NotFound("subj_1 does not exist")

    with pytest.raises(NotFound):
        await retry_on_conflict(missing, "subj_1")
    assert runs == 1
