"""Operator changes made with `paygate operators …` are in the audit log, refusals too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_operators_cli import config as config  # the CLI's own settings file and database
from test_operators_cli import paygate

from core.approvals.model import AuditEntry
from gateway.container import Container
from gateway.storage.queries.ops_lists import AuditFilter
from gateway.storage.queries.pages import PageRequest


def audit() -> list[AuditEntry]:
    container = Container()

    async def read() -> list[AuditEntry]:
        try:
            entries, _ = await container.ops_lists().audit(
                AuditFilter(subject_type="operator"), PageRequest(50)
            )
        finally:
            await container.engine().dispose()
            writer = container.sqlite_writer()
            if writer is not None:
                await writer.aclose()
        return entries

    return asyncio.run(read())


def test_every_operator_change_is_audited(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        paygate(monkeypatch, "add", "wu", "--role", "viewer", "--password-stdin", stdin="correct horse\n")
        == 0
    )
    assert paygate(monkeypatch, "token", "wu") == 0
    assert paygate(monkeypatch, "reset", "wu", "--password-stdin", stdin="another horse\n") == 0
    assert paygate(monkeypatch, "disable", "wu") == 0
    assert paygate(monkeypatch, "disable", "nobody") == 1
    assert paygate(monkeypatch, "list") == 0
    entries = audit()[::-1]
    assert [(e.action, e.subject_id, e.outcome.split(":")[0]) for e in entries] == [
        ("operators/add", "wu", "ok"),
        ("operators/token", "wu", "ok"),
        ("operators/reset", "wu", "ok"),
        ("operators/disable", "wu", "ok"),
        ("operators/disable", "nobody", "refused"),
    ]
    assert all(e.operator.startswith("cli:") and e.role == "admin" and e.client == "cli" for e in entries)
