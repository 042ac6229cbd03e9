"""Crash safety of the payment path: `paygate serve` is killed with SIGKILL at random points of
a mixed load — internal transfers, payouts finance approves, bank loan bills, lease rent
withheld — and restarted on the same database, while the channel simulators run on in a process
of their own, as real channels would. At the end, once nothing is in flight:

- every request answered 2xx has its result stored (read back);
- no payout transfer, bank voucher or rent deduction was executed twice at the simulators (their
  own state files), no transfer twice in the ledger (the payer paid each transfer once);
- the ledger check passes;
- every payout, bill, lease period and payment is final, or visible to an operator (its payment
  escalated) — none stuck silently.

PAYGATE_CRASH_ROUNDS (default 3) rounds; PAYGATE_CRASH_SEED replays the kill points of a run
(its seed is printed). PAYGATE_TEST_POSTGRES_URL runs it on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from crash_harness import CrashSite, Executions, crash_site, environ_int, executions
from crash_load import FUNDING, BillScript, Caller, LeaseScript, PayoutScript, Transfers
from paygate_testkit import DATABASES, own_postgres_database

ROUND_SECONDS = 2.0  # the kill and each new script start at random points of a round
PG_ROUND_SECONDS = 5.0  # PostgreSQL answers slower: a longer round for as much load
# after the last restart, everything in flight lands or is escalated: a payment saved but never
# sent is first queried 2 min after its save (gateway/storage/rows.py CREATED_GRACE), resent after
# its deadline + 2 min (RESEND_GRACE), then polled on its channel's schedule
SETTLE_SECONDS = 240
FINAL_PAYOUT = {"succeeded", "failed", "rejected", "returned"}
FINAL_BILL = {"completed", "bank_failed", "business_failed", "validation_failed", "risk_rejected"}
FINAL_PERIOD = {"paid", "failed", "cancelled"}


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None: the embedded SQLite default; else a fresh PostgreSQL database, migrated."""
    if request.param == "sqlite":
        yield None
        return
    with own_postgres_database("paygate_crash") as url:
        yield url


@pytest.fixture
def site(tmp_path: Path, database_url: str | None) -> Iterator[CrashSite]:
    """The simulators' process, started; the gateway is started by the test. Both end here."""
    crash = crash_site(tmp_path, database_url)
    crash.simulators.start(*crash.simulator_ports)
    yield crash
    crash.stop_all()


class Load:
    """Every workflow script of the run, advanced a round at a time."""

    def __init__(self, transfers: Transfers, seed: int) -> None:
        self.transfers = transfers
        self.tag = f"{seed % 10**6:06d}"
        self.payouts: list[PayoutScript] = []
        self.bills: list[BillScript] = []
        self.leases: list[LeaseScript] = []
        self.starts: dict[int, float] = {}  # id of a new script: its delay into its first round
        self.escalated: set[str] = set()  # payments escalated to operators, as last read

    def add_round(self, n: int, rng: random.Random, window: float) -> None:
        """New scripts, each starting at a random point of the round."""
        tag = f"{self.tag}-{n}"
        for i in range(2):
            # every second payee keeps the transfer DEALING for two queries
            prefix = "dealing." if i % 2 else ""
            payee = f"{prefix}crash-{tag}-{i}@example.com"
            self.payouts.append(PayoutScript(f"PO-{tag}-{i}", payee, f"{10 + n % 50}.{i + 1:02d}"))
            # 1001: the bank answers processing twice before the success
            card = f"6222{n % 10**8:08d}{i}{'1001' if i % 2 else '4321'}"
            self.bills.append(BillScript(f"JK-{tag}-{i}", card, f"{100 + n % 50}.{i + 1:02d}"))
        self.leases.append(LeaseScript(f"LO-{tag}", (f"{20 + n % 20}.10", f"{20 + n % 20}.20")))
        for script in (*self.payouts[-2:], *self.bills[-2:], self.leases[-1]):
            self.starts[id(script)] = rng.uniform(0, window)

    async def _later(self, script: Any, step: Any) -> None:
        await asyncio.sleep(self.starts.pop(id(script), 0))
        await step

    def steps(self, call: Caller, lease_simulator: str) -> list[Any]:
        """One step of every unfinished script (a new one after its random delay)."""
        return [
            *(self._later(p, p.advance(call)) for p in self.payouts if not p.done),
            *(self._later(b, b.advance(call)) for b in self.bills if not b.done),
            *(
                self._later(lo, lo.advance(call, call.session, lease_simulator))
                for lo in self.leases
                if not lo.done
            ),
        ]

    def pending_scripts(self) -> int:
        return (
            len(self.transfers.sent)
            - len(self.transfers.answers)
            + sum(not p.done for p in self.payouts)
            + sum(not b.done for b in self.bills)
            + sum(not lease.done for lease in self.leases)
        )


async def _setup_accounts(call: Caller) -> Transfers:
    answer = await call("POST", "/v1/accounts", {"owner": "payer", "kind": "C", "currency": "CNY"})
    assert answer is not None and answer[0] == 201, answer
    payer = answer[1]["id"]
    answer = await call("POST", "/v1/accounts", {"owner": "payee", "kind": "B", "currency": "CNY"})
    assert answer is not None and answer[0] == 201, answer
    funding = {"out_request_no": "crash-funding", "amount": str(FUNDING), "currency": "CNY"}
    funded = await call("POST", f"/ops/accounts/{payer}/fund", funding)
    assert funded is not None and funded[0] == 201, funded
    return Transfers(payer, answer[1]["id"])


async def _round_with_a_kill(
    site: CrashSite, load: Load, call: Caller, rng: random.Random, n: int, window: float
) -> None:
    """One round of load: transfers all along, the scripts' steps at random points; the gateway
    is killed at a random point of it, and restarted."""
    lease_simulator = f"http://127.0.0.1:{site.simulator_ports[2]}"
    kill_at = rng.uniform(0.05, window)
    load.add_round(n, rng, window)
    stop = asyncio.Event()
    work = asyncio.gather(
        load.transfers.stream(call, stop, f"{load.tag}-{n}"), *load.steps(call, lease_simulator)
    )
    await asyncio.sleep(kill_at)
    site.gateway_process.kill()
    stop.set()
    await asyncio.wait_for(work, timeout=60)  # calls to the dead gateway fail at once
    print(f"round {n}: killed at {kill_at:.2f} s, {call.answered} answers so far", flush=True)
    await asyncio.to_thread(site.start_gateway)


async def _finish(load: Load, call: Caller, site: CrashSite) -> None:
    """No more kills: the caller retries what was never answered until every script is done."""
    lease_simulator = f"http://127.0.0.1:{site.simulator_ports[2]}"
    deadline = time.monotonic() + SETTLE_SECONDS
    while load.pending_scripts() and time.monotonic() < deadline:
        await asyncio.gather(load.transfers.retry_unanswered(call), *load.steps(call, lease_simulator))
        await asyncio.sleep(1)
    assert load.pending_scripts() == 0, "the caller's scripts did not finish after the last restart"


async def _in_flight(load: Load, call: Caller) -> list[str]:
    """What is still moving: a non-final object whose payment is not escalated to operators."""
    answer = await call("GET", "/ops/payments/stuck")
    assert answer is not None and answer[0] == 200, answer
    escalated = {p["id"] for p in answer[1]["payments"] if p["escalated"]}
    load.escalated = escalated
    moving = [p["id"] for p in answer[1]["payments"] if not p["escalated"]]
    for payout in load.payouts:
        got = await call("GET", f"/v1/payouts/{payout.payout_id}")
        assert got is not None and got[0] == 200, got
        payout.seen = got[1]
        if got[1]["status"] not in FINAL_PAYOUT and got[1].get("payment_id") not in escalated:
            moving.append(f"payout {payout.payout_id} {got[1]['status']}")
    for bill in load.bills:
        assert bill.bill is not None
        got = await call("GET", f"/v1/bills/{bill.bill['id']}")
        assert got is not None and got[0] == 200, got
        bill.seen = got[1]
        if got[1]["status"] not in FINAL_BILL and got[1].get("payment_id") not in escalated:
            moving.append(f"bill {bill.bill['id']} {got[1]['status']}")
    for lease in load.leases:
        assert lease.order is not None
        got = await call("GET", f"/v1/lease/orders/{lease.order['id']}")
        assert got is not None and got[0] == 200, got
        lease.order = got[1]
        for period in got[1]["periods"]:
            if period["status"] not in FINAL_PERIOD and period["payment_id"] not in escalated:
                moving.append(f"lease {lease.order['id']} period {period['no']} {period['status']}")
    return moving


async def _settled(load: Load, call: Caller) -> list[str]:
    deadline = time.monotonic() + SETTLE_SECONDS
    moving = await _in_flight(load, call)
    while moving and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        moving = await _in_flight(load, call)
    return moving


async def _check_answers_stored(load: Load, call: Caller) -> tuple[Decimal, int]:
    """Every 2xx answer reads back the same. Returns the sum of the succeeded transfers, and how
    many answered transfers have an empty flow log (a figure only: not this suite's subject)."""
    paid, no_flow = Decimal("0.00"), 0
    for key, answered in load.transfers.answers.items():
        got = await call("GET", f"/v1/payments/{answered['id']}")
        assert got is not None and got[0] == 200, (key, got)
        flow = await call("GET", f"/v1/payments/{answered['id']}/flow")
        no_flow += flow is None or flow[0] != 200 or not flow[1]["flow"]
        stored = got[1]
        assert (stored["out_request_no"], stored["amount"]) == (key, answered["amount"]), stored
        if answered["status"] in ("succeeded", "failed"):
            assert stored["status"] == answered["status"], (answered, stored)
        if stored["status"] == "succeeded":
            paid += Decimal(stored["amount"])
    for payout in load.payouts:
        assert payout.approved is not None
        got = await call("GET", f"/v1/payouts/{payout.payout_id}")
        assert got is not None and got[0] == 200 and got[1]["serial_no"] == payout.serial_no, got
    for bill in load.bills:
        assert bill.bill is not None
        got = await call("GET", f"/v1/bills/{bill.bill['id']}")
        assert got is not None and got[0] == 200 and got[1]["bill_code"] == bill.bill_code, got
    return paid, no_flow


# what the channel must have executed for an object in each state: paid once, or not at all;
# an object whose payment was escalated may be either (an operator finds out)
PAID_ONCE = {"succeeded", "returned", "completed", "paid"}
NOT_PAID = {"failed", "rejected", "bank_failed", "validation_failed", "risk_rejected"}


def _disagreements(load: Load, found: Executions) -> list[tuple[str, str, str, int]]:
    """Objects whose state says paid (or not) while the channel executed them otherwise."""
    seen: list[tuple[str, str, str]] = [
        *(("payout transfers", p.payee, str(p.seen.get("status"))) for p in load.payouts),
        *(("bank vouchers", b.card_no, str(b.seen.get("status"))) for b in load.bills),
    ]
    for lease in load.leases:
        order = lease.order or {}
        agreement = order.get("agreement", {}).get("external_agreement_no")
        for period in order.get("periods", []):
            seen.append(("lease deductions", f"{agreement}#{period['no']}", period["status"]))
    wrong = []
    for kind, key, status in seen:
        paid = found.paid.get(kind, Counter())[key]
        if (status in PAID_ONCE and paid != 1) or (status in NOT_PAID and paid != 0) or paid > 1:
            wrong.append((kind, key, status, paid))
    return wrong


def _seed() -> int:
    return environ_int("PAYGATE_CRASH_SEED", random.SystemRandom().randrange(10**9))


async def test_kill_9_at_random_points_loses_nothing_and_pays_nothing_twice(
    site: CrashSite, database_url: str | None
) -> None:
    seed, rounds = _seed(), environ_int("PAYGATE_CRASH_ROUNDS", 3)
    print(f"crash suite: PAYGATE_CRASH_SEED={seed} PAYGATE_CRASH_ROUNDS={rounds}")
    rng = random.Random(seed)
    window = ROUND_SECONDS if database_url is None else PG_ROUND_SECONDS
    await asyncio.to_thread(site.start_gateway)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        call = Caller(site.gateway, session)
        load = Load(await _setup_accounts(call), seed)
        for n in range(rounds):
            await _round_with_a_kill(site, load, call, rng, n, window)
        await _finish(load, call, site)
        moving = await _settled(load, call)
        paid, no_flow = await _check_answers_stored(load, call)
        payer = await call("GET", f"/v1/accounts/{load.transfers.payer}")
        payee = await call("GET", f"/v1/accounts/{load.transfers.payee}")
        ledger = await call("GET", "/ops/ledger/check")
    site.stop_all()  # the simulators save their last state
    found = executions(site.folder)
    print(
        f"crash suite figures: seed={seed} rounds={rounds} kills={rounds} "
        f"answered={call.answered} unanswered={call.unanswered} channel_unknown={len(call.unknown_outcomes)} "
        f"transfers={len(load.transfers.answers)} payouts={len(load.payouts)} bills={len(load.bills)} "
        f"leases={len(load.leases)} escalated_payments={len(load.escalated)} "
        f"transfers_with_empty_flow={no_flow} "
        f"executions={found.totals()} duplicates={found.duplicates()}"
    )
    assert not call.refusals, call.refusals
    assert not moving, f"stuck silently (seed {seed}): {moving}"
    twice = found.duplicates()
    assert all(not keys for keys in twice.values()), f"executed twice (seed {seed}): {twice}"
    disagreements = _disagreements(load, found)
    assert not disagreements, f"the gateway and the channel disagree (seed {seed}): {disagreements}"
    assert payer is not None and payer[1]["balance"] == f"{FUNDING - paid:.2f}", (payer, paid)
    assert payee is not None and (payee[1]["balance"], payee[1]["pending_balance"]) == (f"{paid:.2f}", "0.00")
    assert ledger is not None and ledger[0] == 200 and ledger[1]["ok"], ledger
