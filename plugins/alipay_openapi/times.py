"""Alipay's wall-clock format: `yyyy-MM-dd HH:mm:ss` in Beijing time, as aware datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALIPAY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

try:
    BEIJING = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # pragma: no cover - hosts without tzdata; China has no DST
    BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # type: ignore[assignment]


def format_alipay_time(moment: datetime) -> str:
    """An aware datetime as Alipay writes it (Beijing wall clock)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Alipay times are built from timezone-aware datetimes only")
    return moment.astimezone(BEIJING).strftime(ALIPAY_TIME_FORMAT)


def parse_alipay_time(text: str) -> datetime:
    """Alipay's `yyyy-MM-dd HH:mm:ss` (Beijing wall clock) as an aware datetime."""
    return datetime.strptime(text.strip(), ALIPAY_TIME_FORMAT).replace(tzinfo=BEIJING)


def beijing_now() -> datetime:
    """The current time, aware, in Beijing."""
    return datetime.now(BEIJING)
