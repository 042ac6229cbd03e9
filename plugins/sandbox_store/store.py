"""`SandboxStore`: JSON records of a simulator keyed by (kind, id), in SQLite or in memory.

Every write is committed at once: the simulators are slow, single-process test doubles, and a
`kill -9` of the gateway must leave them what a real channel would still know.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

IN_MEMORY = ":memory:"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records"
    " (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))"
)


class SandboxStore:
    """Records of one simulator: `put` replaces, `get` and `all` read back what was put."""

    def __init__(self, path: str | Path = IN_MEMORY) -> None:
        if str(path) != IN_MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(SCHEMA)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Every `put` inside the block commits together (or not at all)."""
        self._conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def put(self, kind: str, record_id: str, body: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO records (kind, id, body) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
            (kind, record_id, json.dumps(body, ensure_ascii=False)),
        )

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT body FROM records WHERE kind = ? AND id = ?", (kind, record_id)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def all(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record of a kind, in the order they were first put."""
        rows = self._conn.execute("SELECT id, body FROM records WHERE kind = ? ORDER BY rowid", (kind,))
        for record_id, body in rows.fetchall():
            yield record_id, dict(json.loads(body))

    def delete(self, kind: str, record_id: str) -> None:
        self._conn.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def close(self) -> None:
        self._conn.close()
