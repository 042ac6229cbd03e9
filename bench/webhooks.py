"""Do webhooks keep up with the transfers? The transfer benchmark of bench/transfers.py with the
caller app's notify_url pointing at a local receiver, against deliveries per second.

Run from the repository root:

    .venv/bin/python bench/webhooks.py --seconds 15
    .venv/bin/python bench/webhooks.py --seconds 10 --concurrency 16 --accounts 100

What it does, all on 127.0.0.1 and in a fresh temporary directory that is removed at the end:

1. starts a webhook receiver (another process: one aiohttp handler that answers 200 to every
   POST and keeps, per X-Event-Id, the wall-clock time it first arrived);
2. starts `python -m gateway.cli serve` on a new durable SQLite file exactly as
   bench/transfers.py does, except that the caller app has `notify_url` set to that receiver
   (every committed transfer queues one `payment.succeeded` event in its transaction);
3. opens and funds the accounts, then drives transfers for --warmup + --seconds seconds with
   the load generator of bench/transfers.py;
4. after the load, polls GET /ops/notifications?status=pending until no event is pending;
5. prints committed transfers/s and deliveries/s in the measured window (distinct event ids
   first received inside it, divided by its length), their ratio, and how long after the end
   of the load the backlog took to empty; exits 1 unless the ratio is >= 1.0, the backlog
   emptied within 5 s, every committed transfer's event reached the receiver, and the ledger
   checks out.

A ratio of at least 1.0 means the deliverer worked off at least as many events as transfers
committed over the same window, so its backlog did not grow while the load ran.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import transfers as tr  # bench/transfers.py, beside this script

HOOK_PATH = "/hooks/paygate"
MIN_RATIO = 1.0
MAX_DRAIN_SECONDS = 5.0
DRAIN_TIMEOUT = 120.0  # give up waiting for the backlog after this long (reported as a failure)


# -- the receiver ------------------------------------------------------------------------------
def _receiver_main(port: int) -> int:
    """Hidden mode: the webhook receiver. Answers 200; counts posts and distinct event ids."""
    from aiohttp import web

    first_seen: dict[str, float] = {}
    posts = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal posts
        await request.read()
        posts += 1
        first_seen.setdefault(request.headers.get("X-Event-Id", ""), time.time())
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"posts": posts, "arrivals": sorted(first_seen.values())})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post(HOOK_PATH, hook)
    app.router.add_get("/stats", stats)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=tr.HOST, port=port, print=None, access_log=None)
    return 0


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
    receiver = start(
        "receiver", [sys.executable, script, "--_receiver", str(hook_port)], tr._child_env({}), tmp, children
    )
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
    result, _cpu = tr.run_load([base], accounts, args, children, tmp, "gateway", [gateway])
    load_ended = time.time()
    if not gateway.alive():
        raise RuntimeError(f"the gateway died during the run:\n{gateway.tail()}")
    drain_seconds = asyncio.run(wait_backlog_empty(base, DRAIN_TIMEOUT))
    stats = asyncio.run(_get_json(hook_base + "/stats"))
    report = asyncio.run(tr.ledger_check(base))
    measure_until = load_started + 0.1 + args.warmup + args.seconds  # as run_load sets it
    measure_from = measure_until - args.seconds
    arrivals: list[float] = stats["arrivals"]
    in_window = sum(1 for at in arrivals if measure_from <= at <= measure_until)
    transfers_rate = result.ok / args.seconds
    deliveries_rate = in_window / args.seconds
    ratio = deliveries_rate / transfers_rate if transfers_rate else float("nan")

    print()
    print(
        f"webhooks under the transfer load: {args.seconds:g}s measured after {args.warmup:g}s warm-up, "
        f"{args.concurrency} clients, SQLite, receiver answering 200"
    )
    print(f"committed transfers/s:   {transfers_rate:10.1f}  ({result.ok} in the window)")
    print(
        f"deliveries/s:            {deliveries_rate:10.1f}  ({in_window} distinct events first arrived in it)"
    )
    print(f"ratio deliveries/transfers: {ratio:.3f} (must be >= {MIN_RATIO:.1f})")
    drained = f"not within {DRAIN_TIMEOUT:.0f}s" if drain_seconds is None else f"{drain_seconds:.2f}s"
    print(
        f"backlog empty after the load: {drained} after the last answer "
        f"({load_ended - measure_until:.2f}s after the window closed; must be <= {MAX_DRAIN_SECONDS:g}s)"
    )
    print(
        f"whole run: {result.ok_total} transfers committed, {len(arrivals)} distinct events received, "
        f"{stats['posts']} posts ({stats['posts'] - len(arrivals)} repeats), "
        f"{result.server_errors_total} 5xx; ledger {'ok' if report.get('ok') else 'NOT OK'}"
    )

    failures = []
    if not ratio >= MIN_RATIO:
        failures.append(f"deliveries/s is {ratio:.3f} of committed transfers/s, below {MIN_RATIO}")
    if drain_seconds is None or drain_seconds > MAX_DRAIN_SECONDS:
        failures.append(f"the backlog took {drained} to empty, more than {MAX_DRAIN_SECONDS:g}s")
    if len(arrivals) < result.ok_total:
        failures.append(f"{result.ok_total} transfers committed but only {len(arrivals)} events arrived")
    if result.ok_total == 0:
        failures.append("no transfer was committed")
    if result.server_errors_total:
        failures.append(f"{result.server_errors_total} transfers answered 5xx")
    if not report.get("ok"):
        failures.append(f"ledger check failed: {json.dumps(report)[:2000]}")
    return failures


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
    if len(sys.argv) == 3 and sys.argv[1] == "--_receiver":
        sys.exit(_receiver_main(int(sys.argv[2])))
    sys.exit(main())
