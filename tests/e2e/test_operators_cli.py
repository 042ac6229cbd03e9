"""`paygate operators …` as an administrator runs it, on a fresh embedded SQLite database."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from paygate_testkit import TEST_SECURITY

from core.operators.model import Role
from gateway.cli import main
from gateway.container import Container


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file of its own (the tests' card keys, so the process's vault stays the same)."""
    path = tmp_path / "paygate.toml"
    keys = TEST_SECURITY["card_keys"]
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/ops.db"\n'
        "[ops]\npassword_time_cost = 1\npassword_memory_kib = 8\npassword_parallelism = 1\n"
        f'[security]\nactive_key_id = "{TEST_SECURITY["active_key_id"]}"\n'
        f'lookup_key = "{TEST_SECURITY["lookup_key"]}"\n'
        "[security.card_keys]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    )
    monkeypatch.setenv("PAYGATE_CONFIG", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def paygate(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["operators", *args])


def authenticate(token: str) -> tuple[str, frozenset[Role]] | None:
    container = Container()

    async def check() -> tuple[str, frozenset[Role]] | None:
        try:
            found = await container.operators().authenticate_token(token)
        finally:
            await container.engine().dispose()
            writer = container.sqlite_writer()
            if writer is not None:
                await writer.aclose()
        return None if found is None else (found.login, found.roles)

    return asyncio.run(check())


def test_add_token_list_reset_disable(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    added = paygate(
        monkeypatch, "add", "li", "--role", "finance", "--role", "operator", "--name", "Li Na",
        "--password-stdin", stdin="correct horse\n",
    )  # fmt: skip
    assert added == 0 and "added: li" in capsys.readouterr().out

    assert paygate(monkeypatch, "token", "li") == 0
    printed = capsys.readouterr()
    token = printed.out.strip()
    assert token.startswith("pgo_") and token not in printed.err and "shown once" in printed.err
    assert authenticate(token) == ("li", {Role.FINANCE, Role.OPERATOR})

    assert paygate(monkeypatch, "list") == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.split()[:3] == ["li", "finance,operator", "active"] and "Li Na" in line

    assert paygate(monkeypatch, "reset", "li", "--password-stdin", stdin="another horse\n") == 0
    assert paygate(monkeypatch, "disable", "li") == 0
    assert "disabled" in capsys.readouterr().out
    assert authenticate(token) is None


def test_refusals_exit_non_zero_with_the_reason(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert paygate(monkeypatch, "add", "li", "--role", "viewer", "--password-stdin", stdin="short\n") == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert (
        paygate(monkeypatch, "add", "li", "--role", "viewer", "--password-stdin", stdin="long enough\n") == 0
    )
    assert (
        paygate(monkeypatch, "add", "li", "--role", "admin", "--password-stdin", stdin="long enough\n") == 1
    )
    assert "exists" in capsys.readouterr().err
    assert paygate(monkeypatch, "disable", "nobody") == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        paygate(monkeypatch, "add", "wang", "--role", "boss", "--password-stdin", stdin="long enough\n")
