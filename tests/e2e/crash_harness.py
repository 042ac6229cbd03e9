"""Processes of the crash-safety suite: the channel simulators in a process of their own
(`paygate simulators serve`), the gateway (`paygate serve`, `sandbox = false`) that is killed
with SIGKILL and restarted on the same database, and what the simulators executed, read from
their own state files."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from paygate_testkit import ROOT, ServedGateway, shipped_gateway

# Polled every second, escalated after 40 queries: long enough that a payment a crash left
# unsent, resent after its deadline (its query count goes on), still sees its channel finish.
ALIPAY_POLLS = f"query_schedule_seconds = {[1] * 40}  # (crash suite)\n"
SPDB_POLLS = "query_backoff_seconds = [1.0]\ntimeout_seconds = 5.0\nmax_polls = 40  # (crash suite)\n"


def crash_config(tmp_path: Path) -> Path:
    """The shipped paygate.toml with the channels polled fast and the workers' leases short."""
    text = (ROOT / "paygate.toml").read_text()
    hooks = 'notify_url = "http://127.0.0.1:8099/webhooks/paygate"\n'
    assert hooks in text
    text = text.replace(hooks, "")  # no webhooks: this suite counts what the channels executed
    for marker, extra in (
        ("[channels.alipay_payout]\n", ALIPAY_POLLS),
        ("[channels.ant_lease]\n", ALIPAY_POLLS),
        ("[channels.spdb]\n", SPDB_POLLS),
    ):
        assert marker in text, marker
        text = text.replace(marker, marker + extra)
    text += (
        "\n[workers]\npoll_interval_seconds = 0.2\nlease_seconds = 3\n"
        '[log]\nlevel = "WARNING"\njson = false\n'
    )
    config = tmp_path / "paygate.toml"
    config.write_text(text)
    return config


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # readiness poll of a child process, bounded by the deadline
    raise AssertionError(f"nothing listens on {port} after {seconds} s: {log.read_text()[-3000:]}")


@dataclass
class Process:
    """A child process whose output goes to a log file (a pipe nobody reads would block it)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    _out: IO[bytes] | None = None

    def start(self, *ports: int) -> None:
        self._out = self.log.open("ab")
        out = self._out
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=out)
        for port in ports:
            wait_for_port(port, self.proc, self.log)

    def kill(self) -> None:
        """SIGKILL: no shut-down, nothing flushed."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self._closed()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self._closed()

    def _closed(self) -> None:
        self.proc = None
        if self._out is not None:
            self._out.close()
            self._out = None


@dataclass
class CrashSite:
    """The gateway (a `ServedGateway` to call) and the simulators' process, in one folder."""

    gateway: ServedGateway
    gateway_process: Process
    simulators: Process
    simulator_ports: tuple[int, ...]
    folder: Path

    def start_gateway(self) -> None:
        self.gateway_process.start(self.gateway.port)

    def stop_all(self) -> None:
        self.gateway_process.stop()
        self.simulators.stop()


def crash_site(tmp_path: Path, database_url: str | None = None) -> CrashSite:
    served = shipped_gateway(tmp_path, "http://127.0.0.1:9/unused")
    env = served.env | {"PAYGATE_CONFIG": str(crash_config(tmp_path))}
    if database_url:
        env["PAYGATE_DATABASE__URL"] = database_url
    env.pop("PAYGATE_APPS__DEMO__NOTIFY_URL")
    served.env = env | {"PAYGATE_SANDBOX": "false"}  # the gateway calls the simulators' process
    cli = [sys.executable, "-m", "gateway.cli"]
    ports = tuple(
        int(env[f"PAYGATE_CHANNELS__{code}__SANDBOX_PORT"]) for code in ("SPDB", "ALIPAY_PAYOUT", "ANT_LEASE")
    )
    return CrashSite(
        gateway=served,
        gateway_process=Process([*cli, "serve"], served.env, tmp_path, tmp_path / "gateway.log"),
        simulators=Process([*cli, "simulators", "serve"], env, tmp_path, tmp_path / "simulators.log"),
        simulator_ports=ports,
        folder=tmp_path,
    )


@dataclass
class Executions:
    """What the simulators executed, from their own state files: per business key (a payout's
    payee, a bill's payee card, a lease period), the channel orders they hold and how many paid."""

    orders: dict[str, Counter[str]] = field(default_factory=dict)
    paid: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, kind: str, key: str, paid: bool) -> None:
        self.orders.setdefault(kind, Counter())[key] += 1
        self.paid.setdefault(kind, Counter())[key] += int(paid)

    def duplicates(self) -> dict[str, dict[str, int]]:
        """Business keys the channel paid more than once."""
        return {kind: {k: n for k, n in paid.items() if n > 1} for kind, paid in self.paid.items()}

    def totals(self) -> dict[str, int]:
        return {kind: sum(paid.values()) for kind, paid in self.paid.items()}


def _records(path: Path, kind: str) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT body FROM records WHERE kind = ?", (kind,)).fetchall()
    finally:
        conn.close()
    return [json.loads(body) for (body,) in rows]


def executions(folder: Path) -> Executions:
    """Read once the simulators' process has stopped (its last state saved)."""
    data = folder / "data"
    found = Executions()
    for transfer in _records(data / "alipay_payout_sandbox.db", "transfer"):
        payee = transfer["biz_content"]["payee_info"]["identity"]
        found.add("payout transfers", payee, transfer["status"] == "SUCCESS")
    for payment in _records(data / "spdb_sandbox.db", "payment"):
        # a payment the bank took in is executed unless its scenario refuses it
        refused = payment["scenario"] in {"reject", "refuse", "revoke", "system_error"}
        found.add("bank vouchers", payment["fields"]["payeeAcctNo"], not refused)
    for trade in _records(data / "ant_lease_sandbox.db", "trade"):
        period = trade["biz"].get("extend_params", {}).get("tc_installment_order_id", "?")
        found.add("lease deductions", f"{trade['agreement']}#{period}", trade["status"] == "TRADE_SUCCESS")
    return found


def environ_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default
