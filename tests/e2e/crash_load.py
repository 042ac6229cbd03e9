"""The load of the crash-safety suite, as a caller app and finance would drive it: internal
transfers, payouts finance approves (paid by the Alipay payout simulator), bank loan bills (SPDB)
and lease orders whose rent is withheld (Ant Lease). Each workflow is a script that a killed
gateway interrupts anywhere; the next round carries it on with the same idempotency keys, as a
caller retries, and remembers every answer a 2xx gave so the end can read each back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import aiohttp
from paygate_testkit import ServedGateway

CALL_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)
FUNDING = Decimal("1000000.00")
BUYER = "2088102146225135"  # the lease simulator's ordinary buyer


@dataclass
class Caller:
    """Calls the gateway; a call the killed gateway never answered gives None."""

    gateway: ServedGateway
    session: aiohttp.ClientSession
    answered: int = 0
    unanswered: int = 0
    refusals: list[tuple[str, int, Any]] = field(default_factory=list)
    # a channel that did not answer in time (a starved simulator on a busy machine): the
    # documented 502 CHANNEL_OUTCOME_UNKNOWN, which the scripts repeat; counted, not a failure
    unknown_outcomes: list[str] = field(default_factory=list)

    async def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any] | None:
        try:
            status, answer = await self.gateway.call(self.session, method, path, body)
        except CALL_ERRORS:
            self.unanswered += 1
            return None
        self.answered += 1
        if status == 502 and _code(answer) == "CHANNEL_OUTCOME_UNKNOWN":
            self.unknown_outcomes.append(path)
        elif status >= 500:
            self.refusals.append((path, status, answer))
        return status, answer


def _code(answer: Any) -> str | None:
    error = answer.get("error") if isinstance(answer, dict) else None
    return error.get("code") if isinstance(error, dict) else None


@dataclass
class Transfers:
    """Transfers between two accounts; an unanswered one is sent again (same out_request_no)."""

    payer: str
    payee: str
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def new(self, key: str, n: int) -> str:
        self.sent[key] = {
            "out_request_no": key,
            "pay_method": "transfer",
            "amount": f"{1 + n % 7}.{n % 100:02d}",
            "currency": "CNY",
            "payer_account": self.payer,
            "payee_account": self.payee,
            **({"settlement": "async"} if n % 2 else {}),
        }
        return key

    async def one(self, call: Caller, key: str) -> None:
        answer = await call("POST", "/v1/payments", self.sent[key])
        if answer is not None and 200 <= answer[0] < 300:
            self.answers[key] = answer[1]

    async def stream(self, call: Caller, stop: asyncio.Event, tag: str, callers: int = 8) -> None:
        """`callers` callers at once: the unanswered ones again, then new transfers until `stop`."""
        retries = [k for k in self.sent if k not in self.answers]

        async def caller(c: int) -> None:
            n = 0
            while not stop.is_set():
                key = retries.pop() if retries else self.new(f"tr-{tag}-{c}-{n}", n)
                n += 1
                await self.one(call, key)

        await asyncio.gather(*(caller(c) for c in range(callers)))

    async def retry_unanswered(self, call: Caller, callers: int = 8) -> None:
        gate = asyncio.Semaphore(callers)

        async def again(key: str) -> None:
            async with gate:
                await self.one(call, key)

        await asyncio.gather(*(again(k) for k in self.sent if k not in self.answers))


@dataclass
class PayoutScript:
    """Applied, then approved by finance: paid by the Alipay payout simulator."""

    serial_no: str
    payee: str
    amount: str
    payout_id: str | None = None
    approved: dict[str, Any] | None = None
    seen: dict[str, Any] = field(default_factory=dict)  # as last read back

    async def advance(self, call: Caller) -> None:
        if self.payout_id is None:
            item = {
                "serial_no": self.serial_no,
                "order_serial_no": f"ORD-{self.serial_no}",
                "payee_account": self.payee,
                "amount": self.amount,
                "ext": {"type": 6, "pay_method": 1, "reason": "crash suite", "payee_name": "李四"},
            }
            answer = await call("POST", "/v1/payouts", {"items": [item]})
            if answer is None:
                return
            assert answer[0] == 200 and answer[1]["items"][0]["payout"], answer
            self.payout_id = answer[1]["items"][0]["payout"]["id"]
        if self.approved is None:
            answer = await call("POST", f"/ops/payouts/{self.payout_id}/approve", {"reviewer": "finance"})
            if answer is not None:
                assert answer[0] == 200, answer
                self.approved = answer[1]

    @property
    def done(self) -> bool:
        return self.approved is not None


@dataclass
class BillScript:
    """A loan paid by bank (SPDB 8801 / 8804) to a card of the applicant's own."""

    bill_code: str
    card_no: str
    amount: str
    applicant: str | None = None
    bill: dict[str, Any] | None = None
    seen: dict[str, Any] = field(default_factory=dict)  # as last read back

    async def advance(self, call: Caller) -> None:
        if self.applicant is None:
            card = {"card_no": self.card_no, "name": "张三", "bank_name": "浦发银行上海分行"}
            body = {"owner": "张三", "kind": "C", "currency": "CNY", "bank_card": card}
            answer = await call("POST", "/v1/accounts", body)
            if answer is None:
                return  # an account opened without an answer stays unused
            assert answer[0] == 201, answer
            self.applicant = answer[1]["id"]
        if self.bill is None:
            body = {
                "bill_code": self.bill_code,
                "pay_mode": "bank",
                "applicant_account": self.applicant,
                "amount": self.amount,
                "currency": "CNY",
            }
            answer = await call("POST", "/v1/bills/loans", body)
            if answer is not None:
                assert answer[0] in (200, 201), answer
                self.bill = answer[1]

    @property
    def done(self) -> bool:
        return self.bill is not None


@dataclass
class LeaseScript:
    """A lease order whose two periods are due: contract signed, withholding signed (the user
    plays at the simulator), then the gateway's workers withhold the rent."""

    out_order_no: str
    amounts: tuple[str, str]
    order: dict[str, Any] | None = None

    async def advance(self, call: Caller, session: aiohttp.ClientSession, simulator: str) -> None:
        if self.order is None:
            answer = await call("POST", "/v1/lease/orders", self._body())
            if answer is None:
                return
            assert answer[0] in (200, 201), answer
            self.order = answer[1]
        answer = await call("GET", f"/v1/lease/orders/{self.order['id']}")
        if answer is None:
            return
        assert answer[0] == 200, answer
        self.order = answer[1]
        path = f"/v1/lease/orders/{self.order['id']}"
        contract, agreement = self.order["contract"], self.order["agreement"]
        if contract["status"] == "unsigned":
            answer = await call("POST", f"{path}/contract/sign", {"template_id": "TPL_LEASE_STD"})
            if answer is not None and answer[0] == 200:
                await _user_signs(session, simulator, answer[1]["sign_url"])
        elif contract["status"] == "signing" and contract["sign_url"]:
            await _user_signs(session, simulator, contract["sign_url"])
        elif agreement["status"] == "none":
            answer = await call("POST", f"{path}/withholding/sign", {})
            if answer is not None and answer[0] == 200:
                await _user_signs(session, simulator, answer[1]["sign_url"])
        elif agreement["status"] == "signing" and agreement["sign_url"]:
            await _user_signs(session, simulator, agreement["sign_url"])

    def _body(self) -> dict[str, Any]:
        today = datetime.now(timezone(timedelta(hours=8))).date()  # Beijing's calendar day
        due = [(today - timedelta(days=days)).isoformat() for days in (2, 1)]
        return {
            "out_order_no": self.out_order_no,
            "buyer_id": BUYER,
            "title": "crash suite lease",
            "total_amount": str(sum(Decimal(a) for a in self.amounts)),
            "period_count": 2,
            "periods": [{"due_date": d, "amount": a} for d, a in zip(due, self.amounts, strict=True)],
        }

    @property
    def done(self) -> bool:
        return self.order is not None and self.order["agreement"]["status"] == "signed"


async def _user_signs(session: aiohttp.ClientSession, simulator: str, url: str) -> None:
    """The user confirms at the simulator (again, harmlessly, when already signed)."""
    try:
        async with session.post(f"{simulator}/_sandbox/users/sign", params={"url": url}) as response:
            await response.read()
    except CALL_ERRORS:
        return
