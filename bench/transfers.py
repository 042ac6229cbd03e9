"""Committed internal transfers per second of the served gateway, against a bare aiohttp handler
(SQLite) or against pgbench TPC-B on the same PostgreSQL server (--postgres).

Run from the repository root:

    .venv/bin/python bench/transfers.py --seconds 20
    .venv/bin/python bench/transfers.py --seconds 15 --concurrency 64 --client-processes 2
    .venv/bin/python bench/transfers.py --postgres --seconds 15 --warmup 3 --processes 2

What it does, all on 127.0.0.1 and in a fresh temporary directory that is removed at the end:

1. starts `python -m gateway.cli serve` as a separate process, configured only through its
   environment (PAYGATE_CONFIG names a TOML file written here: a new durable SQLite file with
   the default synchronous=FULL, one caller app, one operator token, the rule
   pay_method "transfer" -> channel "internal_transfer", log level WARNING, workers on),
   and waits for GET /healthz;
2. opens --accounts customer accounts (kind C, CNY) with signed requests, then funds each one
   generously through POST /ops/accounts/{id}/fund (one after the other phase: see
   open_and_fund for why they are not interleaved);
3. drives signed POST /v1/payments transfers between random pairs of those accounts, each
   with a new out_request_no and nonce, from --concurrency clients (asyncio, one keep-alive
   connection per client: aiohttp's ClientSession, or with --client raw, the default with
   --postgres, a minimal HTTP/1.1 client of this script at about a third of its CPU) for a
   --warmup period and then for --seconds measured seconds;
4. checks the ledger (GET /ops/ledger/check) and that every transfer a client saw committed
   has its ledger transaction, then stops the gateway;
5. starts a bare aiohttp server (another process: one handler that reads the JSON body and
   answers a small JSON) and drives it with the same client code, request shape (same
   path, signed headers and body size), concurrency and duration;
6. prints both results and their ratio; exits 1 if the ledger check fails, any transfer got a
   5xx, a committed transfer is missing from the ledger, or nothing was committed at all.

What the numbers mean:

* "transfers/s" counts only 2xx answers whose payment is "succeeded" (committed: the gateway
  answers after its SQLite COMMIT) and that completed inside the measured window, divided by
  the window length. Other answers are counted apart, by HTTP status and error code.
* Latency is client-side, from sending the request to reading the whole answer, in ms, for
  the counted requests only (p50 and p99 by nearest rank).
* The bare handler is the ceiling this machine gives any aiohttp service driven by this
  load generator; the ratio gateway/bare says how much of it the gateway's own work costs.
* "CPU in the window" is read from /proc for exactly the measured window: cores used by the
  server process (with its threads; with a --gateway-prefix, the profiler too), by the load
  generator, and how busy the whole machine was. "ms per request" is server CPU divided by
  the counted requests: the gateway's cost of one committed transfer.
* "gateway log errors" counts error records in the gateway's log (e.g. a failing worker).
* The target of >= 1500 committed transfers/s is printed as met or not; it does not change
  the exit status.

Machine limits: the load generator, the server under test and SQLite share the same CPUs
(2 cores on the reference machine). The gateway is one Python process: its event loop runs the
handlers and the SQLite writer's batched statements, and only the group commit's fsync runs on
a thread of its own (docs/ARCHITECTURE.md, "Ledger"), so it uses at most about one core; the
client competes with it for the other. The gateway serves on uvloop when installed (the
default), and so does the bare handler. --client-processes N splits the
clients over N processes (plain asyncio, no uvloop) so that the generator itself is not the
bottleneck; on a 2-core machine more than 2 only adds contention. Only one server runs at a
time: the gateway is stopped before the bare server starts.

PostgreSQL (--postgres, or --postgres-url / $PAYGATE_BENCH_POSTGRES_URL to use a server of
yours): bench/pgserver.py starts a PostgreSQL of the bench's own (initdb and pg_ctl as the
`postgres` user, as .ci/run does, on a temporary data directory and socket directory, 127.0.0.1,
--postgres-port 54339) with fsync=on and synchronous_commit=on, so that both sides commit
durably, and pg_stat_statements loaded. It runs `pgbench -i -s 10` and `pgbench -c 8 -j 2 -T
<seconds>` (TPC-B) on a database of its own, then migrates a fresh database (`paygate migrate`)
and drives the same signed transfers as above against one gateway process, and with
--processes N against N more (`paygate serve --port`, one port each, the clients split over
them; accounts opened once, through the first run), then runs pgbench once more on a new
database: this machine's speed drifts within minutes (pgbench alone gave 2,700-4,150 tps in one
hour at stop 24), so the two pgbench runs bracket the gateways' and their mean is the baseline.
It prints the rates, the ratio gateway/pgbench (target >= 0.3; against the mean, and against
each run) and N processes/1 (target >= 1.6 for 2), and, from
pg_stat_statements, the statements the server ran per request (BEGIN and COMMIT included, all
the gateway's connections, background workers and flow-log flushes too). A statement is a round
trip, except that each row of an executemany (the flow log's batched rows) counts as a statement
of its own while the batch goes in one pipelined round trip. No bare handler in this mode.

Figures (32 clients, 200 accounts, --seconds 15 --warmup 3 --processes 2; the history and what
each step changed are in docs/ARCHITECTURE.md, "On PostgreSQL"):

                          transfers/s  p50 ms  p99 ms  pgbench tps  ratio        2 proc/1   ms CPU  trips
    stop 16 (busy)        47-64        427-660 1548+   973-1279     0.033-0.065  0.69-1.19  5.8-6.6  ~19
    stop 17 (quiet)       143          212     402     3106         0.046        1.35       6.9      5
    one statement, quiet  574 / 653    46-52   148-165 3167-3298    0.181-0.198  1.01-1.09  1.3-1.6  2
    nonces batched, quiet 542-559      53-55   164-181 2790-3147    0.176-0.200  1.02       1.55-1.66 1.2
    stop 20, quiet        681-757 (1)  38-45   72-89   2633-2780    0.237-0.283  1.05-1.22  0.98-1.21 1.2
                          753-865 (2)                               0.286-0.323 (2 processes)
    stop 24, other machine 802-815 (1)  38-39   62-65   3774-3825    0.212-0.214  1.04       0.96-0.99 1.2
                          831 (2)                                   0.220 (2 processes; pgbench
                                                                    now the mean of before/after)
    stop 25, statements  1121-1314 (1) 24-28  39-48   3693-4100    0.299-0.320  0.99-1.05  0.63-0.76 0.29
    sharing commits       1173-1246 (2)                             0.307-0.323 (2 processes)

    (round trips per transfer now: a share of a batch of ledger statements, each holding the
    ledger transaction, the transfer record, the outbox event, the flow nodes and the payment,
    that commit together, and a share of a nonce claim made for several requests at once. "CPU
    in the window" also gives PostgreSQL's own CPU: 0.8-1.0 ms per transfer at stop 20, the
    gateway's 0.93-1.2 ms and the raw load generator's 0.13 ms, about 2.0 ms in all: one process
    already keeps the 2 CPUs 87-89% busy, so a second one only adds what is left, 1.05-1.22
    times one)

Profiling: --gateway-prefix puts a command in front of the gateway's, e.g. cProfile through
  --gateway-prefix ".venv/bin/python bench/profile_gateway.py --out /tmp/gw.prof --"
or py-spy (`.venv/bin/pip install py-spy`) with
  --gateway-prefix ".venv/bin/py-spy record --idle -r 200 -f speedscope -o /tmp/gw.json --"
(give the output an absolute path: the gateway runs in the temporary directory; it is stopped
with SIGINT so that the profiler writes its output), and --gateway-env
KEY=VALUE (repeatable) adds environment overrides such as PAYGATE_WORKERS__ENABLED=false.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pgserver  # bench/pgserver.py, beside this script

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
APP_ID = "bench"
APP_SECRET = "bench-secret-" + "0123456789abcdef"
# the demo finance operator the gateway creates with ops.demo_operators (funding needs finance)
OPS_TOKEN = "demo-finance-token-change-me"
PAY_PATH = "/v1/payments"
TARGET_TPS = 1500.0
REQUEST_TIMEOUT = 30.0  # seconds, per request
START_TIMEOUT = 60.0  # seconds for a server to answer its health check
SETUP_TIMEOUT = 300.0  # seconds to open and fund the accounts


# -- signing (mirrors gateway.auth.sign; kept here so the client imports nothing of the gateway)
def signed_headers(method: str, path: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(12)
    message = "\n".join([method, path, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    signature = hmac.new(APP_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {
        "X-App-Id": APP_ID,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature,
        "Content-Type": "application/json",
    }


def ops_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPS_TOKEN}", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -- the load generator ------------------------------------------------------------------------
@dataclass
class LoadSpec:
    base_urls: list[str]  # client i drives base_urls[i % len(base_urls)]
    accounts: list[str]
    concurrency: int
    measure_from: float  # wall-clock (time.time()) start of the measured window
    measure_until: float  # wall-clock end of the measured window; clients stop sending then
    tag: str  # makes out_request_no unique across processes and runs
    seed: int
    raw: bool = False  # _raw_client instead of aiohttp's (--client raw)


@dataclass
class LoadResult:
    ok: int = 0  # committed (2xx, status succeeded) and completed inside the window
    latencies_ms: list[float] = field(default_factory=list)  # of those
    errors: Counter[str] = field(default_factory=Counter)  # inside the window, by status/code
    ok_total: int = 0  # committed over the whole run (warm-up and drain included)
    server_errors_total: int = 0  # 5xx over the whole run
    sent_total: int = 0
    answered_at: dict[str, float] = field(default_factory=dict)  # out_request_no -> committed answer read

    def merge(self, other: LoadResult) -> None:
        self.ok += other.ok
        self.latencies_ms += other.latencies_ms
        self.errors.update(other.errors)
        self.ok_total += other.ok_total
        self.server_errors_total += other.server_errors_total
        self.sent_total += other.sent_total
        self.answered_at.update(other.answered_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "latencies_ms": self.latencies_ms,
            "errors": dict(self.errors),
            "ok_total": self.ok_total,
            "server_errors_total": self.server_errors_total,
            "sent_total": self.sent_total,
            "answered_at": self.answered_at,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LoadResult:
        return cls(
            d["ok"],
            list(d["latencies_ms"]),
            Counter(d["errors"]),
            d["ok_total"],
            d["server_errors_total"],
            d["sent_total"],
            dict(d["answered_at"]),
        )


def _error_key(status: int, body: bytes) -> str:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "-"
    return f"{status} {code}"


def _transfer_request(
    spec: LoadSpec, index: int, seq: int, rng: random.Random
) -> tuple[str, bytes, dict[str, str]]:
    """A client's next signed transfer: its out_request_no, body and headers."""
    payer, payee = rng.sample(spec.accounts, 2)
    out_request_no = f"{spec.tag}c{index}n{seq}"
    body = json.dumps(
        {
            "out_request_no": out_request_no,
            "pay_method": "transfer",
            "amount": f"0.{rng.randint(1, 99):02d}",
            "currency": "CNY",
            "payer_account": payer,
            "payee_account": payee,
        }
    ).encode()
    return out_request_no, body, signed_headers("POST", PAY_PATH, body)


def _outcome(status: int, answer: bytes) -> str | None:
    """None for a committed transfer, else the error's key."""
    if 200 <= status < 300:
        return None if json.loads(answer).get("status") == "succeeded" else f"{status} not-succeeded"
    return _error_key(status, answer)


def _record(
    spec: LoadSpec, result: LoadResult, out_request_no: str, status: int, key: str | None, started: float
) -> None:
    finished = time.time()
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    result.sent_total += 1
    if status >= 500:
        result.server_errors_total += 1
    if key is None:
        result.ok_total += 1
        result.answered_at[out_request_no] = finished
    if spec.measure_from <= finished <= spec.measure_until:
        if key is None:
            result.ok += 1
            result.latencies_ms.append(round(elapsed_ms, 3))
        else:
            result.errors[key] += 1


Send = Callable[[bytes, dict[str, str]], Awaitable[tuple[int, bytes]]]


async def _client_loop(
    spec: LoadSpec, index: int, result: LoadResult, send: Send, failures: tuple[type[BaseException], ...]
) -> None:
    """One client's transfers, one at a time, each sent by `send` (status, answer); a failure of
    the connection is counted as the client's own error."""
    rng = random.Random(spec.seed * 100_003 + index)
    seq = 0
    while time.time() < spec.measure_until:
        seq += 1
        out_request_no, body, headers = _transfer_request(spec, index, seq, rng)
        started = time.perf_counter()
        status = 0
        try:
            status, answer = await send(body, headers)
            key = _outcome(status, answer)
        except failures as exc:
            key = f"client {type(exc).__name__}"
        _record(spec, result, out_request_no, status, key, started)
        if key is not None and key.startswith("client "):
            await asyncio.sleep(0.01)  # a refused connection must not spin the loop


async def _client(spec: LoadSpec, index: int, result: LoadResult) -> None:
    """One client over aiohttp's ClientSession (one keep-alive connection)."""
    url = spec.base_urls[index % len(spec.base_urls)] + PAY_PATH
    connector = aiohttp.TCPConnector(limit=1)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            async with session.post(url, data=body, headers=headers) as response:
                return response.status, await response.read()

        await _client_loop(spec, index, result, send, (aiohttp.ClientError, TimeoutError, ValueError))


class _RawConnection:
    """A minimal HTTP/1.1 keep-alive client for exactly this load: one request at a time, an
    answer with Content-Length (what aiohttp's server sends). A tenth of aiohttp's client CPU, so
    the load generator takes less of the machine it shares with the gateway and PostgreSQL."""

    def __init__(self, base_url: str) -> None:
        host_port = base_url.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            answer = await reader.readexactly(int(fields["content-length"]))
        except BaseException:
            self.close()
            raise
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _raw_client(spec: LoadSpec, index: int, result: LoadResult) -> None:
    """One client over `_RawConnection`: the same requests, checks and counts as `_client`."""
    connection = _RawConnection(spec.base_urls[index % len(spec.base_urls)])

    async def send(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return await asyncio.wait_for(connection.post(PAY_PATH, body, headers), REQUEST_TIMEOUT)

    failures = (OSError, TimeoutError, ValueError, KeyError, asyncio.IncompleteReadError)
    try:
        await _client_loop(spec, index, result, send, failures)
    finally:
        connection.close()


async def drive(spec: LoadSpec) -> LoadResult:
    result = LoadResult()
    client = _raw_client if spec.raw else _client
    await asyncio.gather(*(client(spec, i, result) for i in range(spec.concurrency)))
    return result


# -- the bare server ---------------------------------------------------------------------------
def _bare_server_main(port: int) -> int:
    """Hidden mode: the bare aiohttp baseline. Reads the JSON body, answers a small JSON."""
    from aiohttp import web

    async def pay(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {"id": "bare", "out_request_no": body.get("out_request_no"), "status": "succeeded"},
            status=201,
        )

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    from gateway.cli import new_event_loop

    app = web.Application()
    app.router.add_post(PAY_PATH, pay)
    app.router.add_get("/healthz", healthz)
    # the same event loop as `paygate serve` picks by default, so the ratio compares like with like
    web.run_app(app, host=HOST, port=port, print=None, access_log=None, loop=new_event_loop("auto"))
    return 0


# -- processes ---------------------------------------------------------------------------------
class Child:
    """A child process we started; stopped (SIGINT, then SIGKILL) exactly once."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.name = name
        self.base_url = ""  # where a server child answers
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            # SIGINT: aiohttp shuts down gracefully, and a profiler in front writes its output
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string of plain characters is a TOML basic string


def write_gateway_config(tmp: Path, port: int, database_url: str | None = None) -> Path:
    """The gateway's TOML; the database is a new SQLite file in `tmp` unless a URL is given."""
    config = tmp / "paygate.toml"
    url = database_url or "sqlite+aiosqlite:///" + str(tmp / "bench.db")
    config.write_text(
        "[server]\n"
        f"host = {_toml_str(HOST)}\n"
        f"port = {port}\n"
        "[database]\n"
        f"url = {_toml_str(url)}\n"
        f"[apps.{APP_ID}]\n"
        f"secret = {_toml_str(APP_SECRET)}\n"
        "[ops]\n"
        "demo_operators = true\n"
        "[log]\n"
        'level = "WARNING"\n'
        "[[routing.rules]]\n"
        'name = "transfers"\n'
        'pay_method = "transfer"\n'
        'channel = "internal_transfer"\n'
    )
    return config


async def wait_healthy(base_url: str, child: Child, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited during start-up:\n{child.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(base_url + "/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)  # readiness poll of a child process, bounded by deadline
    raise RuntimeError(f"{child.name} did not answer /healthz within {timeout:.0f}s")


# -- set-up through the API --------------------------------------------------------------------
async def open_and_fund(base_url: str, n: int, amount: str, tag: str) -> list[str]:
    """Open every account first, then fund them: the two are not interleaved, because a
    funding (read, then write in one deferred SQLite transaction) racing a signed request's
    nonce insert gets an immediate "database is locked" (HTTP 500) from the gateway."""
    gate = asyncio.Semaphore(8)

    async def open_one(session: aiohttp.ClientSession, i: int) -> str:
        async with gate:
            body = json.dumps({"owner": f"bench-{i}", "kind": "C", "currency": "CNY"}).encode()
            path = "/v1/accounts"
            async with session.post(
                base_url + path, data=body, headers=signed_headers("POST", path, body)
            ) as r:
                answer = await r.json(content_type=None)
                if r.status != 201:
                    raise RuntimeError(f"opening an account: HTTP {r.status} {answer}")
            return str(answer["id"])

    async def fund_one(session: aiohttp.ClientSession, i: int, account: str) -> None:
        async with gate:
            body = json.dumps(
                {"out_request_no": f"fund-{tag}-{i}", "amount": amount, "currency": "CNY"}
            ).encode()
            async with session.post(
                f"{base_url}/ops/accounts/{account}/fund", data=body, headers=ops_headers()
            ) as r:
                answer = await r.json(content_type=None)
                if r.status != 201:
                    raise RuntimeError(f"funding {account}: HTTP {r.status} {answer}")

    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        accounts = list(await asyncio.gather(*(open_one(session, i) for i in range(n))))
        await asyncio.gather(*(fund_one(session, i, a) for i, a in enumerate(accounts)))
    return accounts


async def ledger_check(base_url: str) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=120)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(base_url + "/ops/ledger/check", headers=ops_headers()) as r,
    ):
        body = await r.json(content_type=None)
        if r.status != 200:
            raise RuntimeError(f"ledger check: HTTP {r.status} {body}")
        return dict(body)


# -- CPU accounting (Linux /proc; "n/a" elsewhere) ---------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return pids


def _cpu_seconds(pids: list[int], tree: bool) -> float:
    total = 0.0
    for pid in pids:
        for p in _tree(pid) if tree else [pid]:
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    return total


def _machine_jiffies() -> tuple[int, int]:
    with contextlib.suppress(OSError, ValueError):
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values) - idle, sum(values)
    return 0, 0


class CpuWindow(threading.Thread):
    """CPU seconds used by the server's and the clients' process trees, and how busy the whole
    machine was, between two wall-clock instants (the measured window)."""

    def __init__(
        self,
        servers: list[int],
        clients: list[int],
        start: float,
        end: float,
        database: list[int] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.servers, self.clients, self.start_at, self.end_at = servers, clients, start, end
        self.database = database or []  # PostgreSQL's postmaster, when it runs here
        self.result: dict[str, float] | None = None

    def _snap(self) -> tuple[float, float, float, tuple[int, int]]:
        # the server with its children (a profiler in front); a client process alone (the
        # orchestrator, when it drives the load itself, is the parent of the servers); the
        # database server with its backends
        return (
            _cpu_seconds(self.servers, tree=True),
            _cpu_seconds(self.clients, tree=False),
            _cpu_seconds(self.database, tree=True),
            _machine_jiffies(),
        )

    def run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.time()))
        s0, c0, d0, (b0, t0) = self._snap()
        time.sleep(max(0.0, self.end_at - time.time()))
        s1, c1, d1, (b1, t1) = self._snap()
        span = self.end_at - self.start_at
        self.result = {
            "server_cores": (s1 - s0) / span,
            "client_cores": (c1 - c0) / span,
            "machine_busy": (b1 - b0) / (t1 - t0) if t1 > t0 else float("nan"),
        }
        if self.database:
            self.result["database_cores"] = (d1 - d0) / span

    def report(self) -> dict[str, float] | None:
        self.join(timeout=5)
        return self.result


# -- running a load phase ----------------------------------------------------------------------
def run_load(
    base_urls: list[str],
    accounts: list[str],
    args: argparse.Namespace,
    children: list[Child],
    tmp: Path,
    label: str,
    servers: list[Child],
    database: list[int] | None = None,
) -> tuple[LoadResult, dict[str, float] | None]:
    """Warm-up then the measured window, in this process or in --client-processes processes."""
    procs = max(1, args.client_processes)
    lead = 1.0 if procs > 1 else 0.1  # time for worker processes to start before warm-up
    start = time.time() + lead
    measure_from = start + args.warmup
    measure_until = measure_from + args.seconds
    tag = secrets.token_hex(3)
    shares = [args.concurrency // procs + (1 if i < args.concurrency % procs else 0) for i in range(procs)]
    specs = [
        LoadSpec(
            base_urls, accounts, share, measure_from, measure_until, f"{tag}p{i}", i + 1, args.client == "raw"
        )
        for i, share in enumerate(shares)
        if share > 0
    ]
    result = LoadResult()
    if len(specs) == 1:
        cpu = CpuWindow([c.proc.pid for c in servers], [os.getpid()], measure_from, measure_until, database)
        cpu.start()
        time.sleep(max(0.0, start - time.time()))
        result = asyncio.run(drive(specs[0]))
        return result, cpu.report()
    workers: list[tuple[Child, Path]] = []
    for i, spec in enumerate(specs):
        spec_file = tmp / f"{label}-load-{i}.json"
        out_file = tmp / f"{label}-load-{i}.out"
        spec_file.write_text(json.dumps(spec.__dict__))
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--_load-worker",
            str(spec_file),
            str(out_file),
        ]
        workers.append(
            (Child(f"load generator {i}", argv, _child_env({}), tmp, tmp / f"{label}-load-{i}.log"), out_file)
        )
        children.append(workers[-1][0])
    cpu = CpuWindow(
        [c.proc.pid for c in servers], [c.proc.pid for c, _ in workers], measure_from, measure_until, database
    )
    cpu.start()
    deadline = measure_until + REQUEST_TIMEOUT + 30
    for child, out_file in workers:
        try:
            child.proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{child.name} did not finish in time") from exc
        if child.proc.returncode != 0 or not out_file.is_file():
            raise RuntimeError(f"{child.name} failed:\n{child.tail()}")
        result.merge(LoadResult.from_json(json.loads(out_file.read_text())))
    return result, cpu.report()


# -- the report --------------------------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 100)))  # nearest rank
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(result: LoadResult, seconds: float) -> tuple[float, float, float]:
    lat = sorted(result.latencies_ms)
    return result.ok / seconds, percentile(lat, 50), percentile(lat, 99)


def format_errors(errors: Counter[str]) -> str:
    if not errors:
        return "none"
    return ", ".join(f"{key}: {count}" for key, count in errors.most_common())


def log_errors(log: Path) -> Counter[str]:
    """Error records in the gateway's JSON log, by event and the exception's last line."""
    found: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or record.get("level") not in ("error", "critical"):
                continue
            lines = str(record.get("exception", "")).splitlines()
            raised = [x for x in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*: ", x)]
            where = f" ({record['worker']})" if "worker" in record else ""
            found[f"{record.get('event')}{where}: {raised[-1][:160] if raised else ''}"] += 1
    return found


# -- the PostgreSQL mode --------------------------------------------------------------------------
@dataclass
class GatewayRun:
    """One measured load against `processes` gateway processes."""

    processes: int
    result: LoadResult
    cpu: dict[str, float] | None
    statements: list[tuple[int, str]]  # (calls, query) over the whole load phase
    log_errors: Counter[str]
    ledger: dict[str, Any]  # the ledger check after the load
    # the gateways' ledger statements and their round trips over the load phase (/metrics)
    batching: tuple[float, float] = (0.0, 0.0)

    def statements_per_request(self) -> float:
        calls = sum(c for c, _ in self.statements)
        return calls / self.result.sent_total if self.statements and self.result.sent_total else float("nan")

    def round_trips_per_request(self) -> float:
        """Statements per request, less those that shared a round trip with others: the ledger
        statements of one batch are one pipelined round trip (gateway/storage/pg_batches.py)."""
        shared = self.batching[0] - self.batching[1]
        return self.statements_per_request() - shared / max(1, self.result.sent_total)


def ledger_batching(urls: list[str]) -> tuple[float, float]:
    """The gateways' ledger statements and round trips so far, summed, from their /metrics."""
    statements = trips = 0.0
    for url in urls:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            for line in answer.read().decode().splitlines():
                name, _, value = line.partition(" ")
                if name == "paygate_ledger_statements_total":
                    statements += float(value)
                elif name == "paygate_ledger_round_trips_total":
                    trips += float(value)
    return statements, trips


def start_gateways(
    n: int, config: Path, args: argparse.Namespace, tmp: Path, children: list[Child]
) -> list[Child]:
    """`n` gateway processes on ports of their own (`paygate serve --port`), one configuration."""
    env = _child_env({"PAYGATE_CONFIG": str(config), **dict(e.split("=", 1) for e in args.gateway_env)})
    prefix = [os.path.abspath(a) if Path(a).exists() else a for a in shlex.split(args.gateway_prefix)]
    gateways = []
    for i in range(n):
        port = free_port()
        argv = prefix + [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
        child = Child(f"gateway {i}", argv, env, tmp, tmp / f"gateway-{n}p-{i}.log")
        child.base_url = f"http://{HOST}:{port}"
        children.append(child)
        gateways.append(child)
    for child in gateways:
        asyncio.run(wait_healthy(child.base_url, child))
    return gateways


def migrate(config: Path, tmp: Path) -> None:
    env = _child_env({"PAYGATE_CONFIG": str(config)})
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "migrate"], env=env, cwd=tmp, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"paygate migrate failed:\n{done.stdout}\n{done.stderr}")


def measure_gateways(
    n: int,
    config: Path,
    accounts: list[str],
    statements: pgserver.StatementCount,
    args: argparse.Namespace,
    tmp: Path,
    children: list[Child],
) -> GatewayRun:
    gateways = start_gateways(n, config, args, tmp, children)
    urls = [g.base_url for g in gateways]
    if not accounts:
        accounts += asyncio.run(
            asyncio.wait_for(
                open_and_fund(urls[0], args.accounts, args.fund, secrets.token_hex(3)), SETUP_TIMEOUT
            )
        )
    print(f"{n} gateway process(es) up on {', '.join(urls)}; driving transfers ...", flush=True)
    statements.reset()
    batched_before = ledger_batching(urls)
    postmaster = pgserver.postmaster_pid(statements.server)
    result, cpu = run_load(
        urls, accounts, args, children, tmp, f"gateway-{n}p", gateways, [postmaster] if postmaster else None
    )
    calls = statements.by_statement()
    batched_after = ledger_batching(urls)
    batching = (batched_after[0] - batched_before[0], batched_after[1] - batched_before[1])
    for g in gateways:
        if not g.alive():
            raise RuntimeError(f"{g.name} died during the run:\n{g.tail()}")
    ledger = asyncio.run(ledger_check(urls[0]))
    errors: Counter[str] = Counter()
    for g in gateways:
        g.stop()
        children.remove(g)
        errors.update(log_errors(g.log))
    return GatewayRun(n, result, cpu, calls, errors, ledger, batching)


def postgres_server(args: argparse.Namespace) -> contextlib.AbstractContextManager[pgserver.Server]:
    if args.postgres_url:
        return contextlib.nullcontext(pgserver.Server.from_url(args.postgres_url))
    return pgserver.own_server(args.postgres_port)


def run_postgres(args: argparse.Namespace, tmp: Path, children: list[Child]) -> list[str]:
    """pgbench TPC-B, then the gateway (1 process, and --processes N if more) on a fresh migrated
    database of the same server; prints the report; returns the failures."""
    with postgres_server(args) as server:
        durable = pgserver.setting(server, "fsync"), pgserver.setting(server, "synchronous_commit")
        print(
            f"PostgreSQL on {server.host}:{server.port} (fsync={durable[0]}, synchronous_commit={durable[1]})"
        )
        bracket = [pgbench(server, args, "before")]
        database = pgserver.new_database(server, "paygate_bench")
        try:
            config = write_gateway_config(tmp, free_port(), server.url(database))
            migrate(config, tmp)
            statements = pgserver.StatementCount(server, database)
            accounts: list[str] = []
            runs = [
                measure_gateways(n, config, accounts, statements, args, tmp, children)
                for n in sorted({1, args.processes})
            ]
        finally:
            pgserver.drop_database(server, database)
        bracket.append(pgbench(server, args, "after"))
    print_postgres(args, durable, bracket, runs, runs[-1].ledger, len(accounts))
    return postgres_failures(runs, runs[-1].ledger, len(accounts))


def pgbench(server: pgserver.Server, args: argparse.Namespace, when: str) -> float:
    """pgbench's TPC-B rate, run before the gateways and again after them: the machine's speed
    drifts within minutes (a VM's neighbours), and the mean of the two brackets the gateways'."""
    print(f"pgbench TPC-B {when}: {args.pgbench_clients} clients, {args.seconds:g}s ...", flush=True)
    return pgserver.pgbench_tps(server, args.seconds, args.pgbench_clients, 2, args.pgbench_scale)


def print_postgres(
    args: argparse.Namespace,
    durable: tuple[str, str],
    bracket: list[float],
    runs: list[GatewayRun],
    report: dict[str, Any],
    accounts: int,
) -> None:
    tps = sum(bracket) / len(bracket)
    print()
    print(
        f"paygate signed internal transfers on PostgreSQL (fsync={durable[0]}, synchronous_commit="
        f"{durable[1]}), {args.seconds:g}s measured after {args.warmup:g}s warm-up, {args.concurrency} "
        f"clients in {max(1, args.client_processes)} process(es), {accounts} accounts, "
        f"{os.cpu_count()} CPUs shared by clients, gateways and PostgreSQL"
    )
    print(f"{'':34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'ok':>9}{'errors':>9}{'trips':>8}")
    for when, rate in zip(("before", "after"), bracket, strict=False):
        print(f"{f'pgbench TPC-B, {args.pgbench_clients} clients, {when}':34}{rate:10.1f}")
    print(f"{'pgbench TPC-B, their mean':34}{tps:10.1f}")
    for run in runs:
        rate, p50, p99 = summary(run.result, args.seconds)
        label = f"gateway, {run.processes} process(es)"
        print(
            f"{label:34}{rate:10.1f}{p50:10.2f}{p99:10.2f}{run.result.ok:9d}"
            f"{sum(run.result.errors.values()):9d}{run.round_trips_per_request():8.2f}"
        )
    one = summary(runs[0].result, args.seconds)[0]
    print(
        f"ratio gateway (1 process)/pgbench: {one / tps if tps else float('nan'):.3f} (target >= 0.3; "
        f"{' and '.join(f'{one / r:.3f}' if r else 'n/a' for r in bracket)} against before and after)"
    )
    if len(runs) > 1:
        many = summary(runs[-1].result, args.seconds)[0]
        print(
            f"ratio {runs[-1].processes} processes/1 process: {many / one if one else float('nan'):.2f} "
            f"(target >= 1.6 for 2); vs pgbench {many / tps if tps else float('nan'):.3f}"
        )
    for run in runs:
        print(f"--- {run.processes} process(es)")
        print(f"errors in the window: {format_errors(run.result.errors)}")
        if run.cpu:
            c = run.cpu
            per = c["server_cores"] * args.seconds * 1000 / run.result.ok if run.result.ok else float("nan")
            database = ""
            if "database_cores" in c and run.result.ok:
                db_per = c["database_cores"] * args.seconds * 1000 / run.result.ok
                database = f"PostgreSQL {c['database_cores']:.2f} cores ({db_per:.2f} ms per transfer), "
            print(
                f"CPU in the window: gateways {c['server_cores']:.2f} cores ({per:.2f} ms per transfer), "
                f"{database}clients {c['client_cores']:.2f} cores, machine {c['machine_busy']:.0%} busy"
            )
            print_ceiling(run, runs[0], tps, args.seconds)
        print(f"gateway log errors: {format_errors(run.log_errors)}")
        statements, trips = run.batching
        if trips:
            print(
                f"ledger statements: {statements:.0f} in {trips:.0f} round trips, "
                f"{statements / trips:.2f} per round trip and commit"
            )
        if run.statements:
            print(f"statements per request, of {run.result.sent_total} requests:")
            for calls, query in run.statements[:14]:
                print(f"  {calls / max(1, run.result.sent_total):6.2f}  {query}")
        else:
            print("statements: n/a (pg_stat_statements is not loaded on this server)")
    cny = report.get("currencies", {}).get("CNY", {})
    print(
        f"ledger check: {'ok' if report.get('ok') else 'NOT OK'} ({report.get('transactions_checked')} "
        f"transactions, CNY sum of balances {cny.get('sum_of_balances')})"
    )


def print_ceiling(run: GatewayRun, first: GatewayRun, tps: float, seconds: float) -> None:
    """The most any number of gateway processes could do on this machine at this run's CPU per
    transfer (gateways, PostgreSQL and the load generator together, all CPUs busy): the bound
    that no spreading over processes can pass, next to the 1-process rate and pgbench."""
    c, ok = run.cpu, run.result.ok
    if not ok or "database_cores" not in c:
        return
    total_ms = (c["server_cores"] + c["database_cores"] + c["client_cores"]) * seconds * 1000 / ok
    cpus = os.cpu_count() or 1
    ceiling = cpus * 1000 / total_ms
    one = summary(first.result, seconds)[0]
    print(
        f"CPU ceiling: {cpus} CPUs / {total_ms:.2f} ms of CPU per transfer (gateways + PostgreSQL + "
        f"clients) = {ceiling:.0f} transfers/s at most, however many processes: "
        f"{ceiling / one if one else float('nan'):.2f} x the 1-process rate, "
        f"{ceiling / tps if tps else float('nan'):.3f} of pgbench"
    )


def postgres_failures(runs: list[GatewayRun], report: dict[str, Any], accounts: int) -> list[str]:
    failures = []
    if not report.get("ok"):
        failures.append(f"ledger check failed: {json.dumps(report)[:2000]}")
    committed = sum(r.result.ok_total for r in runs)
    transfer_txns = int(report.get("transactions_checked", 0)) - accounts
    if transfer_txns < committed:
        failures.append(
            f"{committed} transfers answered committed but only {transfer_txns} ledger transactions exist"
        )
    for run in runs:
        if run.result.server_errors_total:
            failures.append(
                f"{run.result.server_errors_total} transfers answered 5xx ({run.processes} process(es))"
            )
        if run.result.ok_total == 0:
            failures.append(f"no transfer was committed ({run.processes} process(es))")
    return failures


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before that")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent clients in total")
    p.add_argument("--accounts", type=int, default=200, help="accounts to transfer between")
    p.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="load-generator processes sharing the clients (default 1)",
    )
    p.add_argument(
        "--client",
        choices=["aiohttp", "raw"],
        default=None,
        help="the load generator's HTTP client: aiohttp's (default without --postgres, the bare "
        "handler's baseline was set with it) or a minimal raw one (default with --postgres)",
    )
    p.add_argument("--fund", default="100000.00", help="amount funded into each account")
    p.add_argument(
        "--gateway-prefix",
        default="",
        help="command put in front of the gateway's (e.g. a profiler), shell-split",
    )
    p.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the gateway (repeatable)",
    )
    p.add_argument("--skip-bare", action="store_true", help="measure the gateway only")
    pg = p.add_argument_group("PostgreSQL (instead of the SQLite file and the bare handler)")
    pg.add_argument(
        "--postgres",
        action="store_true",
        help="start a durable PostgreSQL, run pgbench TPC-B on it, then the gateway; print the ratio",
    )
    pg.add_argument(
        "--postgres-url",
        default=os.environ.get("PAYGATE_BENCH_POSTGRES_URL", ""),
        help="use this server instead of starting one (default $PAYGATE_BENCH_POSTGRES_URL)",
    )
    pg.add_argument("--postgres-port", type=int, default=54339, help="port of the server started here")
    pg.add_argument("--pgbench-clients", type=int, default=8, help="pgbench -c (default 8; -j 2)")
    pg.add_argument("--pgbench-scale", type=int, default=10, help="pgbench -i -s (default 10)")
    pg.add_argument(
        "--processes",
        type=int,
        default=1,
        help="gateway processes: with N > 1, measured with 1 and then with N (the load split over them)",
    )
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.concurrency < 1 or args.accounts < 2:
        p.error("need --seconds > 0, --warmup >= 0, --concurrency >= 1 and --accounts >= 2")
    if args.seconds > 3600 or args.concurrency > 2000 or args.accounts > 100_000:
        p.error("keep --seconds <= 3600, --concurrency <= 2000 and --accounts <= 100000")
    if args.postgres_url:
        args.postgres = True
    if args.client is None:
        args.client = "raw" if args.postgres else "aiohttp"
    if not 1 <= args.processes <= 8 or not 1 <= args.pgbench_clients <= 64:
        p.error("keep 1 <= --processes <= 8 and 1 <= --pgbench-clients <= 64")
    if args.processes > 1 and not args.postgres:
        p.error("--processes needs --postgres (one SQLite file has one writer process)")
    for item in args.gateway_env:
        if "=" not in item:
            p.error(f"--gateway-env {item!r}: expected KEY=VALUE")
    return args


def run_sqlite(args: argparse.Namespace, tmp: Path, children: list[Child]) -> list[str]:
    """The gateway on a new durable SQLite file, then the bare handler; prints the report;
    returns the failures."""
    failures: list[str] = []
    # 1. the gateway
    port = free_port()
    config = write_gateway_config(tmp, port)
    gw_env = _child_env({"PAYGATE_CONFIG": str(config), **dict(e.split("=", 1) for e in args.gateway_env)})
    prefix = shlex.split(args.gateway_prefix)
    # the gateway runs in the temporary directory: existing relative paths made absolute
    prefix = [os.path.abspath(a) if Path(a).exists() else a for a in prefix]
    argv_gw = prefix + [sys.executable, "-m", "gateway.cli", "serve"]
    gateway = Child("gateway", argv_gw, gw_env, tmp, tmp / "gateway.log")
    children.append(gateway)
    base = f"http://{HOST}:{port}"
    asyncio.run(wait_healthy(base, gateway))
    print(
        f"gateway up on {base} (SQLite {tmp / 'bench.db'}); opening and funding {args.accounts} accounts ...",
        flush=True,
    )

    # 2. accounts
    t0 = time.perf_counter()
    accounts = asyncio.run(
        asyncio.wait_for(open_and_fund(base, args.accounts, args.fund, secrets.token_hex(3)), SETUP_TIMEOUT)
    )
    print(
        f"{len(accounts)} accounts ready in {time.perf_counter() - t0:.1f}s; "
        f"driving transfers for {args.warmup:g}s warm-up + {args.seconds:g}s ...",
        flush=True,
    )

    # 3. the gateway load
    seconds = args.seconds
    gw, gw_cpu = run_load([base], accounts, args, children, tmp, "gateway", [gateway])
    if not gateway.alive():
        raise RuntimeError(f"the gateway died during the run:\n{gateway.tail()}")

    # 4. the ledger, then stop the gateway
    report = asyncio.run(ledger_check(base))
    gateway.stop()
    children.remove(gateway)
    gw_log_errors = log_errors(gateway.log)
    # every ledger transaction is a funding or a committed transfer (no deferred settlement
    # for realtime transfers): a 2xx without its transaction would be a lost commit
    transfer_txns = int(report.get("transactions_checked", 0)) - len(accounts)

    # 5. the bare handler
    bare: LoadResult | None = None
    bare_cpu: dict[str, float] | None = None
    if not args.skip_bare:
        bare_port = free_port()
        argv_bare = [sys.executable, str(Path(__file__).resolve()), "--_bare-server", str(bare_port)]
        bare_child = Child("bare server", argv_bare, _child_env({}), tmp, tmp / "bare.log")
        children.append(bare_child)
        bare_base = f"http://{HOST}:{bare_port}"
        asyncio.run(wait_healthy(bare_base, bare_child))
        print(f"bare aiohttp handler up on {bare_base}; driving it the same way ...", flush=True)
        bare, bare_cpu = run_load([bare_base], accounts, args, children, tmp, "bare", [bare_child])
        bare_child.stop()
        children.remove(bare_child)

    # 6. the report
    gw_rate, gw_p50, gw_p99 = summary(gw, seconds)
    print()
    print(
        f"paygate internal transfers, {seconds:g}s measured after {args.warmup:g}s warm-up, "
        f"{args.concurrency} clients in {max(1, args.client_processes)} process(es), "
        f"{args.accounts} accounts, {os.cpu_count()} CPUs shared by client, server "
        f"and SQLite"
    )
    print(f"{'':28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'ok':>9}{'errors':>9}")
    print(
        f"{'gateway POST /v1/payments':28}{gw_rate:10.1f}{gw_p50:10.2f}{gw_p99:10.2f}"
        f"{gw.ok:9d}{sum(gw.errors.values()):9d}"
    )
    if bare is not None:
        b_rate, b_p50, b_p99 = summary(bare, seconds)
        print(
            f"{'bare aiohttp handler':28}{b_rate:10.1f}{b_p50:10.2f}{b_p99:10.2f}"
            f"{bare.ok:9d}{sum(bare.errors.values()):9d}"
        )
        ratio = gw_rate / b_rate if b_rate else float("nan")
        print(f"ratio gateway/bare: {ratio:.3f}")
        if bare.errors:
            print(f"bare errors: {format_errors(bare.errors)}")
    print(f"gateway errors in the window: {format_errors(gw.errors)}")
    for name, cpu, ok in (("gateway", gw_cpu, gw.ok), ("bare", bare_cpu, bare.ok if bare else 0)):
        if cpu:
            per = cpu["server_cores"] * seconds * 1000 / ok if ok else float("nan")
            print(
                f"CPU in the window ({name}): server {cpu['server_cores']:.2f} cores "
                f"({per:.2f} ms per request), clients {cpu['client_cores']:.2f} cores, "
                f"machine {cpu['machine_busy']:.0%} busy"
            )
    print(
        f"gateway whole run: {gw.sent_total} sent, {gw.ok_total} committed, "
        f"{gw.server_errors_total} 5xx; ledger transfer transactions: {transfer_txns}"
    )
    print(f"gateway log errors: {format_errors(gw_log_errors)}")
    cny = report.get("currencies", {}).get("CNY", {})
    print(
        f"ledger check: {'ok' if report.get('ok') else 'NOT OK'} "
        f"({report.get('transactions_checked')} transactions, CNY sum of balances "
        f"{cny.get('sum_of_balances')})"
    )
    met = gw_rate >= TARGET_TPS
    print(f"target >= {TARGET_TPS:.0f} transfers/s: {'met' if met else 'NOT met'} ({gw_rate:.1f}/s)")

    if not report.get("ok"):
        failures.append(f"ledger check failed: {json.dumps(report)[:2000]}")
    if gw.server_errors_total:
        failures.append(f"{gw.server_errors_total} transfers answered 5xx")
    if transfer_txns < gw.ok_total:
        failures.append(
            f"{gw.ok_total} transfers answered committed but only {transfer_txns} ledger transactions exist"
        )
    if gw.ok_total == 0:
        failures.append("no transfer was committed")
    return failures


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    tmp = Path(tempfile.mkdtemp(prefix="paygate-bench-"))
    children: list[Child] = []
    failures: list[str] = []
    try:
        failures = run_postgres(args, tmp, children) if args.postgres else run_sqlite(args, tmp, children)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - report, clean up, fail
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        for child in children:
            if child.name.startswith("gateway"):
                print(f"--- gateway log tail ---\n{child.tail()}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # do not interrupt the clean-up
        for child in reversed(children):
            with contextlib.suppress(Exception):
                child.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--_load-worker":
        spec = LoadSpec(**json.loads(Path(sys.argv[2]).read_text()))
        with contextlib.suppress(KeyboardInterrupt):
            Path(sys.argv[3]).write_text(json.dumps(asyncio.run(drive(spec)).to_json()))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--_bare-server":
        sys.exit(_bare_server_main(int(sys.argv[2])))
    sys.exit(main())
