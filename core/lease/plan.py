"""The rent plan's calendar and the retry schedule of failed periods: a period is due from
the start of its due date in Beijing; a failed attempt waits `RetrySchedule.steps[n - 1]`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

# China keeps no daylight saving time: a fixed offset names Beijing wall-clock days.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def due_moment(day: date) -> datetime:
    """The start of `day` in Beijing, as an aware UTC datetime: when a period becomes due."""
    return datetime.combine(day, time(0, 0), tzinfo=BEIJING).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Seconds to wait after the 1st, 2nd, ... failed attempt of a period before the next."""

    steps: tuple[int, ...]

    def next_attempt_at(self, attempts: int, failed_at: datetime) -> datetime | None:
        if 1 <= attempts <= len(self.steps):
            return failed_at + timedelta(seconds=self.steps[attempts - 1])
        return None
