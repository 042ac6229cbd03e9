"""One PostgreSQL statement made of held writes: data-modifying CTEs, their parameters
($1, $2 … for asyncpg) and the checks that refuse the whole statement.

A check is a condition over the CTEs' answers; the first one that holds (in their order) calls
`paygate_refuse('paygate refusal <n>')` (migration 0015), which fails the statement with that
message, so nothing it wrote stays; `refusal_of` maps the error back to the check's error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from gateway.storage.pg_rows import PgRows

REFUSAL = "paygate refusal "  # the message prefix of paygate_refuse() calls made here
Refusal = Callable[[], Awaitable[Exception]]


@dataclass
class Statement:
    """Held writes: the CTEs of one statement, its parameters and its checks."""

    args: list[Any] = field(default_factory=list)
    ctes: list[str] = field(default_factory=list)
    checks: list[tuple[int, str, Refusal]] = field(default_factory=list)  # (order, condition, error)
    posts: int = 0
    payment_ids: set[str] = field(default_factory=set)
    # its posting's accounts, and the parameter (an index of `args`, an empty array) through
    # which the first statement of a batch locks every account of the batch (pg_batches.py)
    accounts: list[str] = field(default_factory=list)
    lock_at: int | None = None
    updates: bool = False  # it updates a row that is not an account (not batched)

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def name(self, stem: str) -> str:
        return f"{stem}{len(self.ctes)}"

    def insert(self, rows: PgRows, values: Sequence[dict[str, Any]], suffix: str = "") -> str:
        name = self.name("ins")
        self.ctes.append(f"{name} AS ({rows.json_insert(self.arg(rows.json_rows(values)), suffix)})")
        return name

    def check(self, order: int, condition: str, refusal: Refusal) -> None:
        self.checks.append((order, condition, refusal))

    def sql(self, answer: str | None = None) -> str:
        """The statement: its CTEs, then its checks (or, without checks, `answer`: a query over
        the CTEs for a caller that decides itself)."""
        ordered = sorted(enumerate(self.checks), key=lambda item: (item[1][0], item[0]))
        cases = " ".join(f"WHEN {cond} THEN paygate_refuse('{REFUSAL}{i}')" for i, (_, cond, _) in ordered)
        select = f"SELECT CASE {cases} ELSE 0 END" if cases else answer or "SELECT 0"
        return f"WITH {', '.join(self.ctes)} {select}"

    def refusal_of(self, error: asyncpg.RaiseError) -> Refusal | None:
        message = str(error)
        if not message.startswith(REFUSAL):
            return None
        return self.checks[int(message.removeprefix(REFUSAL))][2]
