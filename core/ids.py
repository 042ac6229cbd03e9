"""Identifiers: a type prefix, a millisecond time part (sortable) and randomness."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    return f"{prefix}_{time.time_ns() // 1_000_000:011x}{secrets.token_hex(8)}"


def utcnow() -> datetime:
    return datetime.now(UTC)
