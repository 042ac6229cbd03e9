"""`paygate serve` checks the database's schema revision before it serves: a database that is not
at the code's head is refused with one line naming `paygate migrate`; the embedded SQLite
default migrates itself."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from paygate_testkit import PG_ADMIN_URL, ServedGateway, free_port, own_postgres_database

from gateway.migrate import head_revision

NO_SCHEMA = (
    f"paygate: the database has no schema (this code needs revision {head_revision()}): run `paygate migrate`"
)


def write_config(tmp_path: Path, database_url: str, *, auto_migrate: bool | None) -> Path:
    config = tmp_path / "paygate.toml"
    migrate = "" if auto_migrate is None else f"auto_migrate = {str(auto_migrate).lower()}\n"
    config.write_text(
        "sandbox = false\n"
        f'[server]\nport = {free_port()}\n[database]\nurl = "{database_url}"\n{migrate}'
        '[[routing.rules]]\nname = "t"\npay_method = "transfer"\nchannel = "internal_transfer"\n'
    )
    return config


def paygate(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        env=_env(config),
        timeout=60,
        cwd=config.parent,  # what the command writes under data/ (demo card keys) stays in the test's folder
    )


def _env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
    env["PAYGATE_CONFIG"] = str(config)
    return env


def assert_serves(config: Path, tmp_path: Path) -> None:
    """`paygate serve` binds its port (and is stopped again)."""
    port = int(config.read_text().split("port = ")[1].split("\n")[0])
    served = ServedGateway(port, _env(config), tmp_path, app_id="", secret="", ops_token="")
    served.start()
    served.stop()


def assert_refused(config: Path, line: str) -> None:
    result = paygate(["serve"], config)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [line]


def sqlite_revision(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_an_unmigrated_sqlite_file_is_refused_until_migrated(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/gw.db", auto_migrate=False)
    assert_refused(config, NO_SCHEMA)
    migrated = paygate(["migrate"], config)
    assert migrated.returncode == 0, migrated.stderr
    assert_serves(config, tmp_path)


def test_a_database_behind_the_code_is_refused_with_its_revision(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/gw.db", auto_migrate=False)
    assert paygate(["migrate", "0001"], config).returncode == 0
    assert_refused(
        config,
        f"paygate: the database is at revision 0001, this code needs {head_revision()}: "
        "run `paygate migrate`",
    )


def test_the_embedded_sqlite_default_migrates_itself(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/gw.db", auto_migrate=None)
    assert_serves(config, tmp_path)
    assert sqlite_revision(tmp_path / "gw.db") == head_revision()


@pytest.fixture
def fresh_postgres_database() -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped afterwards."""
    if not PG_ADMIN_URL:
        pytest.skip("PAYGATE_TEST_POSTGRES_URL is not set")
    with own_postgres_database("paygate_schema", migrate=False) as url:
        yield url


def test_an_unmigrated_postgresql_database_is_refused_until_migrated(
    tmp_path: Path, fresh_postgres_database: str
) -> None:
    config = write_config(tmp_path, fresh_postgres_database, auto_migrate=None)
    assert_refused(config, NO_SCHEMA)
    migrated = paygate(["migrate"], config)
    assert migrated.returncode == 0, migrated.stderr
    assert_serves(config, tmp_path)
