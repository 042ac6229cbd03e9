"""The PostgreSQL side of `bench/transfers.py --postgres`: a durable server of the bench's own
(or a given one), pgbench TPC-B against it, fresh databases, and statement counts.

A server of its own: PostgreSQL refuses to run as root, so as root initdb and the server run as
the `postgres` user (as in .ci/run), on a temporary data directory, a Unix socket directory of
its own and 127.0.0.1 only, with fsync=on and synchronous_commit=on (every commit is flushed to
disk: the same durability the gateway's SQLite mode has) and pg_stat_statements loaded, so that
the statements of a measured window can be counted.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

HOST = "127.0.0.1"
DURABLE = "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"


def pg_bin() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian layout), else the PATH's."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb): apt-get install postgresql")
    return Path(initdb).parent


@dataclass(frozen=True)
class Server:
    """Where a PostgreSQL server answers (user postgres, trust or a password in the URL)."""

    host: str
    port: int
    user: str
    password: str | None

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

    def env(self) -> dict[str, str]:
        """libpq's environment for psql and pgbench."""
        env = {**os.environ, "PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    @classmethod
    def from_url(cls, url: str) -> Server:
        u = sa.engine.make_url(url)
        return cls(u.host or HOST, u.port or 5432, u.username or "postgres", u.password)


def _as_postgres(command: str) -> list[str]:
    return ["su", "postgres", "-c", command] if os.geteuid() == 0 else ["sh", "-c", command]


@contextlib.contextmanager
def own_server(port: int) -> Iterator[Server]:
    """A durable PostgreSQL on 127.0.0.1:`port` for the duration of the block, then removed."""
    bindir = pg_bin()
    work = Path(tempfile.mkdtemp(prefix="paygate-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
    data, log = work / "data", work / "log"
    options = " ".join(
        [
            f"-c listen_addresses={HOST} -p {port} -k {work}",
            DURABLE,
            "-c shared_preload_libraries=pg_stat_statements -c max_connections=200",
            "-c shared_buffers=256MB",
        ]
    )
    started = False
    try:
        subprocess.run(
            _as_postgres(f"{bindir}/initdb -D {data} -A trust -U postgres -E UTF8"),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_postgres(f"{bindir}/pg_ctl -D {data} -l {log} -w start -o '{options}'"),
            check=True,
            capture_output=True,
        )
        started = True
        server = Server(HOST, port, "postgres", None)
        psql(server, "postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        yield server
    finally:
        if started:
            subprocess.run(
                _as_postgres(f"{bindir}/pg_ctl -D {data} -m fast -w stop"), capture_output=True, check=False
            )
        shutil.rmtree(work, ignore_errors=True)


def psql(server: Server, database: str, sql: str) -> str:
    """Runs `sql` with psql; returns its unaligned, tuples-only output."""
    done = subprocess.run(
        [str(pg_bin() / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql {sql[:60]!r}: {done.stderr.strip()}")
    return done.stdout.strip()


def setting(server: Server, name: str) -> str:
    return psql(server, "postgres", f"SHOW {name}")


def postmaster_pid(server: Server) -> int | None:
    """The server's postmaster process on this machine (its backends are its children), or None
    for a server elsewhere: the bench then reports no PostgreSQL CPU."""
    try:
        # a long-lived child of the postmaster (psql's own backend would be gone when read)
        child = int(
            psql(server, "postgres", "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
        )
        parent = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if Path(f"/proc/{parent}/comm").read_text().strip().startswith("postgres"):
            return parent
    except (OSError, ValueError, RuntimeError):
        pass
    return None


def new_database(server: Server, prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    psql(server, "postgres", f"CREATE DATABASE {name}")
    return name


def drop_database(server: Server, name: str) -> None:
    with contextlib.suppress(RuntimeError):
        psql(server, "postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pgbench_tps(server: Server, seconds: float, clients: int, threads: int, scale: int) -> float:
    """TPC-B (pgbench's default script) on a fresh database; the tps without connection time."""
    database = new_database(server, "pgbench")
    try:
        bindir = pg_bin()
        subprocess.run(
            [str(bindir / "pgbench"), "-i", "-q", "-s", str(scale), database],
            env=server.env(),
            check=True,
            capture_output=True,
            timeout=600,
        )
        done = subprocess.run(
            [
                str(bindir / "pgbench"),
                "-c",
                str(clients),
                "-j",
                str(threads),
                "-T",
                str(int(seconds)),
                database,
            ],
            env=server.env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
    finally:
        drop_database(server, database)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


class StatementCount:
    """Statements the server ran in one database (pg_stat_statements, utility statements such
    as BEGIN and COMMIT included): each is one client-server round trip of the gateway, as
    asyncpg sends one statement per round trip once it is prepared (and the prepared statements
    are cached per connection). None where pg_stat_statements is not loaded."""

    def __init__(self, server: Server, database: str) -> None:
        self.server, self.database = server, database
        self.available = "pg_stat_statements" in setting(server, "shared_preload_libraries")

    def reset(self) -> None:
        if self.available:
            psql(self.server, self.database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            psql(self.server, self.database, "SELECT pg_stat_statements_reset()")

    def by_statement(self) -> list[tuple[int, str]]:
        """(calls, query) of the database's statements, most called first."""
        if not self.available:
            return []
        out = psql(
            self.server,
            self.database,
            "SELECT s.calls, regexp_replace(left(s.query, 110), '\\s+', ' ', 'g') "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            f"WHERE d.datname = '{self.database}' AND s.query NOT ILIKE '%pg_stat_statements%' "
            "ORDER BY s.calls DESC",
        )
        rows = []
        for line in out.splitlines():
            calls, _, query = line.partition("|")
            rows.append((int(calls), query))
        return rows
