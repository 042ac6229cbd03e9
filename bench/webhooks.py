"""Do webhooks keep up with the transfers? The transfer benchmark of bench/transfers.py with the
caller app's notify_url pointing at a local receiver, against deliveries per second.

Run from the repository root:

    .venv/bin/python bench/webhooks.py --seconds 10
    .venv/bin/python bench/webhooks.py --seconds 10 --concurrency 16 --accounts 100
    # a deliverer that cannot keep up (one webhook at a time, 5 ms each): must FAIL
    .venv/bin/python bench/webhooks.py --seconds 10 --receiver-delay-ms 5 \
        --gateway-env PAYGATE_NOTIFY__CONCURRENCY=1 --gateway-env PAYGATE_NOTIFY__TIMEOUT_SECONDS=1

What it does, all on 127.0.0.1 and in a fresh temporary directory that is removed at the end:

1. starts a webhook receiver (another process: one aiohttp handler that answers 200 to every
   POST, after --receiver-delay-ms if given, and keeps per X-Event-Id when it first arrived,
   when the event was queued (its payment's `updated_at`) and the payment's out_request_no);
2. starts `python -m gateway.cli serve` on a new durable SQLite file exactly as
   bench/transfers.py does, except that the caller app has `notify_url` set to that receiver
   (every committed transfer queues one `payment.succeeded` event in its transaction);
3. opens and funds the accounts, then drives transfers for --warmup + --seconds seconds with
   the load generator of bench/transfers.py, which notes when each committed answer was read;
   meanwhile counts the outbox's pending rows at the two edges of the measured window;
4. after the load, polls GET /ops/notifications?status=pending until no event is pending;
5. prints the figures below; exits 1 unless (c) is >= 0.99, the backlog emptied within 5 s of
   the end of the load, every committed transfer's event reached the receiver, and the ledger
   checks out.

The measure. Each event is queued in its transfer's transaction, so events queued/s is
committed transfers/s. Over the window [s, e], with backlog B(t) = events queued by t and not
yet arrived at t, arrivals in [s, e] = queued in [s, e] + B(s) - B(e) exactly. At equilibrium
the deliverer delivers as many as are queued, and the two rates differ only by B(s) - B(e): the
backlog's fluctuation (a few dozen events at a 30 ms latency, a whole second's worth for a
deliverer that waits for a poll interval), which makes a ratio of arrivals to transfers over one
window scatter around 1 whichever way the deliverer goes (runs gave 0.92 and 1.06). So:

(a) same-window ratio: arrivals in the window / transfers answered in it, as before (shown only);
(b) the backlog at the window's start and end, reconstructed from the receiver's record as
    above, and the outbox's pending rows counted in the database at those moments (they also
    count events in flight and delivered but not yet recorded);
(c) deliveries/s = events queued/s - the backlog's trend over the window (the least-squares
    slope of B(t) sampled every 10 ms), and its ratio to events queued/s: the pass criterion.
    It says whether the backlog grows. A deliverer that keeps up leaves no trend and the ratio
    is 1 to within a few thousandths (the slope of a fluctuation averaged over 1,000 samples);
    one that delivers a share r of the rate leaves a trend of (1 - r) x rate and the ratio is
    r. The criterion is >= 0.99 because a ratio measured at equilibrium is 1 plus noise, never
    reliably above it; 0.99 is several times that noise and fails a deliverer that falls a
    hundredth behind (a growing backlog of 0.01 x rate x window). The ratio of arrivals over
    the window shifted by the median latency is shown too: it removes the steady backlog
    (rate x latency) but not its fluctuation, so it scatters like (a).

Latency: from the event's queueing (the payment's updated_at, taken just before the transfer's
transaction is queued for its commit) to its first arrival, and from the client's read of the
committed answer (after the commit) to the first arrival; the commit lies between the two, so
commit -> first arrival lies between the two figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import transfers as tr  # bench/transfers.py, beside this script

HOOK_PATH = "/hooks/paygate"
MIN_TREND_RATIO = 0.99
MAX_DRAIN_SECONDS = 5.0
DRAIN_TIMEOUT = 120.0  # give up waiting for the backlog after this long (reported as a failure)


# -- the receiver ------------------------------------------------------------------------------
def _receiver_main(port: int, delay_ms: float) -> int:
    """Hidden mode: the webhook receiver. Answers 200 (after `delay_ms`, a slow endpoint); keeps,
    per X-Event-Id, when the event was queued (its payment's updated_at), when it first arrived
    and its payment's out_request_no, and counts the posts."""
    from aiohttp import web

    events: dict[str, tuple[float | None, float, str | None]] = {}
    posts = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal posts
        body = await request.read()
        arrived = time.time()
        posts += 1
        event_id = request.headers.get("X-Event-Id", "")
        if event_id not in events:
            event = json.loads(body)
            events[event_id] = (queued_at(event), arrived, event.get("payment", {}).get("out_request_no"))
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)  # the endpoint's own work
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"posts": posts, "events": list(events.values())})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post(HOOK_PATH, hook)
    app.router.add_get("/stats", stats)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=tr.HOST, port=port, print=None, access_log=None)
    return 0


def queued_at(event: dict[str, Any]) -> float | None:
    """When a payment event was queued: its payment's `updated_at`, the moment the payment became
    final, a few milliseconds before the commit that queued the event (so latencies measured
    from it include the commit)."""
    payment = event.get("payment")
    if not isinstance(payment, dict) or not isinstance(payment.get("updated_at"), str):
        return None
    return datetime.fromisoformat(payment["updated_at"]).timestamp()


async def _get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
        session.get(url, headers=headers) as r,
    ):
        body = await r.json(content_type=None)
        if r.status != 200:
            raise RuntimeError(f"GET {url}: HTTP {r.status} {body}")
        return body


async def wait_backlog_empty(base_url: str, timeout: float) -> float | None:
    """Seconds until the gateway has no pending notification, or None after `timeout`."""
    started = time.monotonic()
    url = base_url + "/ops/notifications?status=pending&limit=1"
    while time.monotonic() - started < timeout:
        body = await _get_json(url, tr.ops_headers())
        if not body["data"]:
            return time.monotonic() - started
        await asyncio.sleep(0.05)  # polling a child process's state, bounded by timeout
    return None


class PendingSampler(threading.Thread):
    """Counts the outbox's pending events at given wall-clock moments (the window's edges),
    reading the gateway's SQLite file (a WAL reader: it never blocks the gateway's writer).
    Pending = queued and not yet recorded as delivered: in flight and delivered-but-not-yet-
    recorded events included."""

    def __init__(self, database: Path, moments: list[float]) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.moments = moments
        self.samples: list[tuple[float, int]] = []

    def run(self) -> None:
        for moment in self.moments:
            time.sleep(max(0.0, moment - time.time()))
            conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
            try:
                sql = "SELECT count(*) FROM outbox WHERE status = 'pending'"
                self.samples.append((time.time(), int(conn.execute(sql).fetchone()[0])))
            finally:
                conn.close()


# -- the measure -------------------------------------------------------------------------------
SAMPLE_STEP = 0.01  # the backlog's trend is fitted to its value every 10 ms of the window


@dataclass(frozen=True)
class Measure:
    """The deliveries against the events queued over the measured window [start, end], from the
    receiver's record of each event (queued at, first arrived at), wall-clock seconds."""

    seconds: float  # the window's length
    queued: int  # events queued inside the window: one per committed transfer
    arrived: int  # distinct events first arrived inside the window
    backlog_start: int  # queued before the window's start and not arrived by then
    backlog_end: int  # queued before its end and not arrived by then
    backlog_slope: float  # least-squares trend of the backlog over the window, events/s
    shifted_arrived: int  # first arrived inside the window shifted by latency_p50
    latency_p50: float  # queued -> first arrival of the events queued inside the window, s
    latency_p99: float
    latency_max: float
    after_answer_p50: float  # the same events, from their transfer's answer read by the client
    after_answer_p99: float

    @property
    def deliveries_rate(self) -> float:
        """Deliveries/s: the events queued per second less the backlog's growth per second."""
        return self.queued / self.seconds - self.backlog_slope

    @property
    def trend_ratio(self) -> float:
        """Deliveries/s per event queued/s: 1 while the backlog does not grow, the deliverer's
        share of the rate when it falls behind (the pass criterion)."""
        return self.deliveries_rate * self.seconds / self.queued if self.queued else float("nan")

    @property
    def shifted_ratio(self) -> float:
        """Arrivals over the window shifted by the median latency, per event queued in it."""
        return self.shifted_arrived / self.queued if self.queued else float("nan")


def measure(events: list[tuple[float, float, float | None]], start: float, end: float) -> Measure:
    """`events`: (queued at, first arrived at, its transfer's answer read at, if known) of every
    event. The backlog at t is the events queued by t less those arrived by t, so
    arrived = queued + backlog_start - backlog_end holds exactly."""
    queued_at = sorted(q for q, _, _ in events)
    arrived_at = sorted(a for _, a, _ in events)

    def backlog(at: float) -> int:
        return bisect.bisect_right(queued_at, at) - bisect.bisect_right(arrived_at, at)

    def between(times: list[float], low: float, high: float) -> int:
        return bisect.bisect_right(times, high) - bisect.bisect_left(times, low)

    moments = [start + k * SAMPLE_STEP for k in range(int((end - start) / SAMPLE_STEP) + 1)]
    slope = statistics.linear_regression(moments, [backlog(t) for t in moments]).slope
    inside = [(q, a, answer) for q, a, answer in events if start <= q <= end]
    latencies = sorted(a - q for q, a, _ in inside)
    after_answer = sorted(a - answer for _, a, answer in inside if answer is not None)
    shift = tr.percentile(latencies, 50) if latencies else 0.0
    return Measure(
        seconds=end - start,
        queued=len(inside),
        arrived=between(arrived_at, start, end),
        backlog_start=backlog(start),
        backlog_end=backlog(end),
        backlog_slope=slope,
        shifted_arrived=between(arrived_at, start + shift, end + shift),
        latency_p50=tr.percentile(latencies, 50),
        latency_p99=tr.percentile(latencies, 99),
        latency_max=latencies[-1] if latencies else float("nan"),
        after_answer_p50=tr.percentile(after_answer, 50),
        after_answer_p99=tr.percentile(after_answer, 99),
    )


# -- the run -----------------------------------------------------------------------------------
def write_config(tmp: Path, port: int, notify_url: str) -> Path:
    """bench/transfers.py's gateway TOML, with the caller app's notify_url set."""
    config = tr.write_gateway_config(tmp, port)
    secret_line = f"secret = {tr._toml_str(tr.APP_SECRET)}\n"
    text = config.read_text()
    assert secret_line in text
    config.write_text(
        text.replace(secret_line, secret_line + f"notify_url = {tr._toml_str(notify_url)}\n", 1)
    )
    return config


def start(name: str, argv: list[str], env: dict[str, str], tmp: Path, children: list[tr.Child]) -> tr.Child:
    child = tr.Child(name, argv, env, tmp, tmp / f"{name}.log")
    children.append(child)
    return child


def run(args: argparse.Namespace, tmp: Path, children: list[tr.Child]) -> list[str]:
    """Receiver, gateway, load, backlog; prints the report; returns the failures."""
    script = str(Path(__file__).resolve())
    hook_port, gw_port = tr.free_port(), tr.free_port()
    receiver_argv = [sys.executable, script, "--_receiver", str(hook_port), str(args.receiver_delay_ms)]
    receiver = start("receiver", receiver_argv, tr._child_env({}), tmp, children)
    hook_base = f"http://{tr.HOST}:{hook_port}"
    asyncio.run(tr.wait_healthy(hook_base, receiver))
    config = write_config(tmp, gw_port, hook_base + HOOK_PATH)
    gw_env = tr._child_env({"PAYGATE_CONFIG": str(config), **dict(e.split("=", 1) for e in args.gateway_env)})
    gateway = start("gateway", [sys.executable, "-m", "gateway.cli", "serve"], gw_env, tmp, children)
    base = f"http://{tr.HOST}:{gw_port}"
    asyncio.run(tr.wait_healthy(base, gateway))
    print(
        f"receiver on {hook_base}, gateway on {base}; opening and funding {args.accounts} accounts ...",
        flush=True,
    )
    accounts = asyncio.run(
        asyncio.wait_for(
            tr.open_and_fund(base, args.accounts, args.fund, secrets.token_hex(3)), tr.SETUP_TIMEOUT
        )
    )
    print(f"driving transfers for {args.warmup:g}s warm-up + {args.seconds:g}s ...", flush=True)
    load_started = time.time()
    window_start = load_started + 0.1 + args.warmup  # as run_load sets it
    window_end = window_start + args.seconds
    sampler = PendingSampler(tmp / "bench.db", [window_start, window_end])
    sampler.start()
    result, cpu = tr.run_load([base], accounts, args, children, tmp, "gateway", [gateway])
    load_ended = time.time()
    if not gateway.alive():
        raise RuntimeError(f"the gateway died during the run:\n{gateway.tail()}")
    drain_seconds = asyncio.run(wait_backlog_empty(base, DRAIN_TIMEOUT))
    sampler.join(timeout=10)
    stats = asyncio.run(_get_json(hook_base + "/stats"))
    report = asyncio.run(tr.ledger_check(base))
    events = [(q, a, result.answered_at.get(no or "")) for q, a, no in stats["events"] if q is not None]
    m = measure(events, window_start, window_end)
    print_report(args, result, m, sampler.samples, cpu)
    drained = f"not within {DRAIN_TIMEOUT:.0f}s" if drain_seconds is None else f"{drain_seconds:.2f}s"
    print(
        f"backlog empty after the load: {drained} after the last answer "
        f"({load_ended - window_end:.2f}s after the window closed; must be <= {MAX_DRAIN_SECONDS:g}s)"
    )
    print(
        f"whole run: {result.ok_total} transfers committed, {len(stats['events'])} distinct events "
        f"received, {stats['posts']} posts ({stats['posts'] - len(stats['events'])} repeats), "
        f"{result.server_errors_total} 5xx; ledger {'ok' if report.get('ok') else 'NOT OK'}"
    )

    failures = []
    if not m.trend_ratio >= MIN_TREND_RATIO:
        failures.append(
            f"deliveries/s is {m.trend_ratio:.4f} of the events queued/s (the backlog grew by "
            f"{m.backlog_slope:.1f} events/s), below {MIN_TREND_RATIO}"
        )
    if drain_seconds is None or drain_seconds > MAX_DRAIN_SECONDS:
        failures.append(f"the backlog took {drained} to empty, more than {MAX_DRAIN_SECONDS:g}s")
    received = len(stats["events"])
    if received < result.ok_total:
        failures.append(f"{result.ok_total} transfers committed but only {received} events arrived")
    if len(events) < len(stats["events"]):
        failures.append(f"{len(stats['events']) - len(events)} events without a payment's updated_at")
    if result.ok_total == 0:
        failures.append("no transfer was committed")
    if result.server_errors_total:
        failures.append(f"{result.server_errors_total} transfers answered 5xx")
    if not report.get("ok"):
        failures.append(f"ledger check failed: {json.dumps(report)[:2000]}")
    return failures


def print_report(
    args: argparse.Namespace,
    result: tr.LoadResult,
    m: Measure,
    pending: list[tuple[float, int]],
    cpu: dict[str, float] | None,
) -> None:
    seconds = args.seconds
    raw = m.arrived / result.ok if result.ok else float("nan")
    print()
    print(
        f"webhooks under the transfer load: {seconds:g}s measured after {args.warmup:g}s warm-up, "
        f"{args.concurrency} clients, SQLite, receiver answering 200"
        + (f" after {args.receiver_delay_ms:g} ms" if args.receiver_delay_ms else "")
    )
    if cpu is not None:
        print(
            f"machine {cpu['machine_busy']:.0%} busy in the window ({os.cpu_count()} cores; gateway "
            f"{cpu['server_cores']:.2f} cores, load generator {cpu['client_cores']:.2f}); "
            f"load average {os.getloadavg()[0]:.2f}"
        )
    print(f"committed transfers/s: {result.ok / seconds:8.1f}  ({result.ok} answered in the window)")
    print(f"events queued/s:       {m.queued / seconds:8.1f}  ({m.queued} queued in the window)")
    print(f"arrivals/s:            {m.arrived / seconds:8.1f}  ({m.arrived} first arrived in it)")
    print(f"(a) same-window ratio:   {raw:.4f}  arrivals / committed transfers (report only)")
    print(
        f"(b) backlog, queued and not arrived: {m.backlog_start} at the start, {m.backlog_end} at the "
        f"end (arrivals = queued + start - end); outbox rows pending then: "
        + (", ".join(str(n) for _, n in pending) or "not sampled")
        + f"; trend {m.backlog_slope:+.1f} events/s"
    )
    print(
        f"(c) deliveries/s = queued/s - backlog trend = {m.deliveries_rate:.1f}; ratio to queued/s "
        f"{m.trend_ratio:.4f} (must be >= {MIN_TREND_RATIO})"
    )
    print(f"    shifted-window ratio: {m.shifted_ratio:.4f}  arrivals in the window shifted by the median")
    print(
        f"latency queued -> first arrival:      p50 {m.latency_p50 * 1000:6.1f} ms, p99 "
        f"{m.latency_p99 * 1000:6.1f} ms, max {m.latency_max * 1000:.1f} ms"
    )
    print(
        f"latency answer read -> first arrival: p50 {m.after_answer_p50 * 1000:6.1f} ms, p99 "
        f"{m.after_answer_p99 * 1000:6.1f} ms (the commit lies between queueing and answer)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=15.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before that")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent transfer clients")
    p.add_argument("--accounts", type=int, default=200, help="accounts to transfer between")
    p.add_argument("--fund", default="100000.00", help="amount funded into each account")
    p.add_argument(
        "--gateway-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment of the gateway (e.g. PAYGATE_NOTIFY__CONCURRENCY=4); repeatable",
    )
    p.add_argument(
        "--receiver-delay-ms",
        type=float,
        default=0.0,
        help="the receiver answers each post after this long (a slow endpoint)",
    )
    args = p.parse_args(argv)
    args.client_processes = 1  # the load in this process, as run_load expects
    for item in args.gateway_env:
        if "=" not in item:
            p.error(f"--gateway-env {item!r}: expected KEY=VALUE")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, tr._on_sigterm)
    tmp = Path(tempfile.mkdtemp(prefix="paygate-bench-webhooks-"))
    children: list[tr.Child] = []
    try:
        failures = run(args, tmp, children)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - report, clean up, fail
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        for child in children:
            print(f"--- {child.name} log tail ---\n{child.tail()}", file=sys.stderr)
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
    if len(sys.argv) == 4 and sys.argv[1] == "--_receiver":
        sys.exit(_receiver_main(int(sys.argv[2]), float(sys.argv[3])))
    sys.exit(main())
