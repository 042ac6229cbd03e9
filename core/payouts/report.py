"""The payout report: what it groups by, the query, its groups and their totals."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.errors import InvalidArgument
from core.money import Money
from core.payouts.model import PayoutType


class ReportKey(enum.StrEnum):
    """What the payout report may group by, and the columns each key contributes."""

    PLATFORM = "platform"
    TYPE = "type"
    PAY_METHOD = "pay_method"
    STATUS = "status"
    DAY = "day"

    @property
    def columns(self) -> tuple[str, ...]:
        return _REPORT_COLUMNS[self]


_REPORT_COLUMNS: dict[ReportKey, tuple[str, ...]] = {
    ReportKey.PLATFORM: ("app_id", "source_platform"),
    ReportKey.TYPE: ("type", "type_name"),
    ReportKey.PAY_METHOD: ("pay_method",),
    ReportKey.STATUS: ("status",),
    ReportKey.DAY: ("day",),
}
DEFAULT_GROUP_BY = (ReportKey.PLATFORM, ReportKey.TYPE)


def parse_group_by(raw: str | None) -> tuple[ReportKey, ...]:
    """`platform,type,...` -> keys in the given order, duplicates dropped; none: the default."""
    if raw is None or not raw.strip():
        return DEFAULT_GROUP_BY
    keys: dict[ReportKey, None] = {}
    for part in raw.split(","):
        name = part.strip()
        try:
            keys[ReportKey(name)] = None
        except ValueError:
            allowed = ", ".join(k.value for k in ReportKey)
            raise InvalidArgument(
                f"cannot group by {name!r}; use any of {allowed}", field="group_by"
            ) from None
    return tuple(keys)


def parse_day(raw: str | None, name: str) -> date | None:
    if raw is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidArgument(f"{name} must be a date YYYY-MM-DD", field=name) from None


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """Payouts applied from `start` to `end` (UTC days, both included), grouped by `group_by`."""

    start: date | None
    end: date | None
    group_by: tuple[ReportKey, ...]
    app_id: str | None = None

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, group_by: str | None, app_id: str | None = None
    ) -> ReportQuery:
        query = cls(parse_day(start, "from"), parse_day(end, "to"), parse_group_by(group_by), app_id)
        if query.start and query.end and query.start > query.end:
            raise InvalidArgument("from must not be after to", field="from")
        return query

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for key in self.group_by for c in key.columns) + ("currency",)


@dataclass(frozen=True, slots=True)
class ReportGroup:
    keys: Mapping[str, Any]
    count: int
    amount: Money


@dataclass(frozen=True, slots=True)
class PayoutReport:
    query: ReportQuery
    groups: Sequence[ReportGroup]

    def totals(self) -> list[dict[str, Any]]:
        """Count and amount per currency over every group."""
        sums: dict[str, tuple[int, int]] = {}
        for g in self.groups:
            count, minor = sums.get(g.amount.currency, (0, 0))
            sums[g.amount.currency] = (count + g.count, minor + g.amount.minor)
        return [
            {"currency": cur, "count": count, "amount": str(Money(minor, cur))}
            for cur, (count, minor) in sorted(sums.items())
        ]


def report_keys(key: ReportKey, row: Mapping[str, Any]) -> dict[str, Any]:
    """The report columns of `key` from a grouped row (type_name is derived from type)."""
    if key is ReportKey.TYPE:
        return {"type": row["type"], "type_name": PayoutType(row["type"]).label}
    return {c: row[c] for c in key.columns}
