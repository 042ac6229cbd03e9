"""What `paygate serve` checks before it serves, each refused with one line that says what to fix
and exit status 2, never a traceback: the database's schema revision (a database that is not at
the code's head names `paygate migrate`; the embedded SQLite default migrates itself), a database
it cannot reach (also for `paygate migrate` and the other commands that use one), and ports
that another process holds (its own, and its channel simulators')."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
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


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on (a socket of this test's own)."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield int(listening.getsockname()[1])


def one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paygate: "), result.stderr
    return lines[0]


def test_a_port_another_process_listens_on_is_refused_before_anything_starts(
    tmp_path: Path, taken_port: int
) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/gw.db", auto_migrate=None)
    config.write_text(config.read_text().replace(f"port = {free_port_in(config)}", f"port = {taken_port}"))
    line = one_line_refusal(paygate(["serve"], config))
    assert line.startswith(f"paygate: the gateway cannot listen on 127.0.0.1:{taken_port}: ")
    assert "choose another port (--port or PAYGATE_SERVER__PORT)" in line
    assert not (tmp_path / "gw.db").exists()  # refused before it opened (and migrated) the database


def free_port_in(config: Path) -> int:
    return int(config.read_text().split("port = ")[1].split("\n")[0])


def test_a_simulator_port_another_gateway_holds_is_refused_with_how_to_share_the_simulators(
    tmp_path: Path, taken_port: int
) -> None:
    """Two `paygate serve` of the embedded default on one machine: the second finds its channel
    simulators' ports taken, and is told to run them once with `paygate simulators serve`."""
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/gw.db", auto_migrate=None)
    config.write_text(
        config.read_text().replace("sandbox = false\n", "")
        + f'[log]\nlevel = "WARNING"\n[channels.spdb]\nsandbox_port = {taken_port}\n'
    )
    for command in (["serve"], ["simulators", "serve"]):
        line = one_line_refusal(paygate(command, config))
        assert line.startswith("paygate: a channel simulator cannot start: "), line
        assert str(taken_port) in line and "address already in use" in line
        assert "run `paygate simulators serve` once and each gateway with PAYGATE_SANDBOX=false" in line


UNREACHABLE = "check database.url (PAYGATE_DATABASE__URL) and that its server runs"


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["keys", "rotate"], ["operators", "list"]])
def test_a_database_nobody_listens_for_is_named_without_its_password(
    tmp_path: Path, command: list[str]
) -> None:
    port = free_port_in(write_config(tmp_path, "sqlite://", auto_migrate=None))  # nobody listens there
    url = f"postgresql+asyncpg://paygate:s3cret-pw@127.0.0.1:{port}/paygate"
    config = write_config(tmp_path, url, auto_migrate=None)
    result = paygate(command, config)
    line = one_line_refusal(result)
    assert line.startswith(
        f"paygate: cannot reach the database postgresql+asyncpg://paygate:***@127.0.0.1:{port}/paygate: "
    )
    assert line.endswith(UNREACHABLE)
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_a_sqlite_file_in_a_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/missing/gw.db", auto_migrate=None)
    line = one_line_refusal(paygate(["serve"], config))
    assert line == (
        f"paygate: cannot open the database file {tmp_path}/missing/gw.db: No such file or directory; "
        "its folder must exist and be writable"
    )


def test_a_postgresql_database_that_does_not_exist_is_named(
    tmp_path: Path, fresh_postgres_database: str
) -> None:
    missing = fresh_postgres_database.rsplit("/", 1)[0] + "/paygate_no_such_database"
    for command in (["serve"], ["migrate"]):
        line = one_line_refusal(paygate(command, write_config(tmp_path, missing, auto_migrate=None)))
        assert 'database "paygate_no_such_database" does not exist' in line
        assert line.endswith(UNREACHABLE)


def test_migrate_says_what_it_did_and_refuses_what_it_cannot_do_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{db}", auto_migrate=False)
    done = paygate(["migrate", "0001"], config)
    assert done.stdout.strip() == "database migrated from no schema to 0001", done.stderr
    done = paygate(["migrate"], config)
    assert done.stdout.strip() == f"database migrated from 0001 to {head_revision()}", done.stderr
    assert paygate(["migrate"], config).stdout.strip() == f"database already at {head_revision()}"

    line = one_line_refusal(paygate(["migrate", "0001"], config))
    assert line == (
        f"paygate: the database stays at {head_revision()}: 0001 is older, "
        "and `paygate migrate` only goes forward"
    )
    line = one_line_refusal(paygate(["migrate", "0003zz"], config))
    assert line.startswith(
        "paygate: cannot migrate to '0003zz': Can't locate revision identified by '0003zz'"
    )
    assert sqlite_revision(db) == head_revision()

    with sqlite3.connect(db) as conn:  # as a newer paygate would leave it
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    line = one_line_refusal(paygate(["migrate"], config))
    assert line == (
        "paygate: the database is at revision 0099_from_the_future, which this code does not know "
        f"(its head is {head_revision()}): a newer paygate migrated it; run that version"
    )


WAITING_FOR_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def test_several_processes_migrating_one_postgresql_database_at_once_take_turns(
    tmp_path: Path, fresh_postgres_database: str
) -> None:
    """Migrations started together (`paygate migrate` run by several hands, or several `paygate
    serve` with auto_migrate): all succeed, one migrates, the others wait for it and find
    nothing to do. To start them at the same instant, the test holds the (empty) revision table
    locked until every process waits for it."""
    processes = 4
    config = write_config(tmp_path, fresh_postgres_database, auto_migrate=None)
    dsn = fresh_postgres_database.replace("postgresql+asyncpg", "postgresql")
    holder, watcher = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await holder.execute(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        gate = holder.transaction()
        await gate.start()
        await holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        started = [
            subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "migrate"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(config),
                cwd=tmp_path,
            )
            for _ in range(processes)
        ]
        deadline = time.monotonic() + 60
        # watched from a connection of its own: a transaction sees pg_stat_activity as it first read it
        while await watcher.fetchval(WAITING_FOR_A_LOCK) < processes:
            assert time.monotonic() < deadline, "the migrations never reached the revision table"
            await asyncio.sleep(0.05)
        await gate.rollback()
    finally:
        await holder.close()
        await watcher.close()
    answers = [await asyncio.to_thread(process.communicate, timeout=120) for process in started]
    assert [process.returncode for process in started] == [0] * processes, answers
    assert all(out.strip().endswith(head_revision()) for out, _err in answers), answers
    assert_serves(config, tmp_path)
