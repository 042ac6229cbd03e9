"""Loan and reimbursement bills through the HTTP API, paid by the SPDB simulator (bank mode) or by
system transfer: checks stored with their flow log, the ledger, polling across a restart,
error handling, faults of the bank, and app isolation."""

from __future__ import annotations

import asyncio
import json
import socket
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from paygate_testkit import OTHER_APP, OTHER_SECRET, SignedClient, make_settings

from gateway.settings import PaygateSettings
from gateway.storage.bills import company_account_ids
from plugins.spdb import sandbox_scenarios as spdb_sandbox
from plugins.spdb.sandbox import SpdbSandbox
from plugins.spdb.sandbox_scenarios import SandboxConfig

ROOT = Path(__file__).parents[2]
PAYER_CARD = "95200078800000001"  # the simulator's payer account
CARD_OK = "6222020000000001"  # any other suffix: 8804 says succeeded at once
CARD_PROCESSING = "6222020000001001"  # 8804 says processing twice, then succeeded
CARD_REJECTED = "6222020000002002"  # 8801 rejected (B2E0005)
CARD_REFUSED = "6222020000003003"  # accepted, 8804 refused (transStatus 8)
CARD_TIMEOUT = "6222020000005005"  # 8801 answer held back
CARD_MALFORMED = "6222020000006006"  # 8801 answer truncated
CARD_UNSIGNED = "6222020000007007"  # 8801 answer without signature
CARD_BAD_SIGNATURE = "6222020000007008"  # 8801 answer signed by an untrusted key
CARD_UNKNOWN_STATUS = "6222020000000007"  # 8804 transStatus 7, unknown to the client
CARD_SYSTEM_ERROR = "6222020000009042"  # 8801 EGG0042, nothing stored at the bank

BILLS = {
    "max_loan_amount": {"CNY": "50000", "USD": "8000"},
    "max_reimbursement_amount": {"CNY": "100000", "USD": "15000"},
    "max_open_loans": 2,
    "max_linked_loans": 1,
    "supported_currencies": ["CNY", "USD"],
    "bank_currencies": ["CNY"],
    "payer_card_no": PAYER_CARD,
}


def bill_settings(database_url: str, sandbox_url: str, timeout: float = 5.0) -> PaygateSettings:
    return make_settings(
        database_url,
        channels={
            "spdb": {
                "front_machine_url": f"{sandbox_url}/front",
                "signing_server_url": f"{sandbox_url}/signer",
                "sandbox": False,
                "timeout_seconds": timeout,
                "query_backoff_seconds": [0.001],  # every poll due at once (whole seconds)
                "max_polls": 4,
            }
        },
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {"name": "bank", "pay_method": "bank", "channel": "spdb", "currency": "CNY"},
            ]
        },
        bills=BILLS,
    )


@dataclass
class Gateway:
    """One running gateway (an app on a database) and the workers a test drives by hand."""

    api: SignedClient
    container: Any

    @property
    def other(self) -> SignedClient:
        return self.api.as_app(OTHER_APP, OTHER_SECRET)

    async def poll(self, rounds: int = 1) -> None:
        from gateway.workers.query_poller import QueryPoller

        poller = QueryPoller(self.container.engine(), self.container.payments(), batch=50)
        for _ in range(rounds):
            await poller.run_once()

    async def work(self) -> int:
        from gateway.workers.bills import BillWorker

        return await BillWorker(self.container.bill_recovery(), batch=50).run_once()

    async def send(self) -> int:
        """The send worker's round: the 8801 calls of the attempts intake and resend_bank saved."""
        from gateway.workers.bill_sends import BillSendWorker

        return await BillSendWorker(self.container.bill_sending(), 50, "test-worker").run_once()

    async def settle(self, rounds: int = 1) -> None:
        """What the workers of a running gateway do: send 8801, poll 8804, business processing."""
        await self.send()
        await self.poll(rounds)
        await self.work()

    async def applicant(
        self,
        card: str | None = CARD_OK,
        owner: str = "张三",
        currency: str = "CNY",
        api: Any = None,
        bank: tuple[str, str | None] = ("浦发银行上海分行", None),
    ) -> str:
        extra: dict[str, Any] = {}
        if card is not None:
            bank_name, bank_no = bank
            extra["bank_card"] = {"card_no": card, "name": owner, "bank_name": bank_name}
            if bank_no is not None:
                extra["bank_card"]["bank_no"] = bank_no
        return str(await (api or self.api).open_account(kind="C", owner=owner, currency=currency, **extra))

    async def loan(
        self,
        applicant: str,
        amount: str = "1000.00",
        pay_mode: str = "bank",
        *,
        send: bool = True,
        **extra: Any,
    ) -> Any:
        """POST the loan. An accepted bank bill is answered bank_submitted (the bank is not
        called in the request); with `send` the send worker then runs its 8801 call and the
        bill is returned as it stands after it."""
        api = extra.pop("api", None) or self.api
        body = {
            "bill_code": f"JK-{uuid.uuid4().hex[:12]}",
            "pay_mode": pay_mode,
            "applicant_account": applicant,
            "amount": amount,
            "currency": "CNY",
            **extra,
        }
        return await self.sent(await api.post("/v1/bills/loans", body), send, api)

    async def sent(self, answer: tuple[int, Any], send: bool, api: Any = None) -> tuple[int, Any]:
        """An intake or resend answer; when it saved a bank attempt (bank_submitted, the only
        answer a bank bill gets), the bill after the send worker's round if `send`."""
        status, bill = answer
        if status not in (200, 201) or bill.get("status") != "bank_submitted" or not send:
            return status, bill
        await self.send()
        _, after = await (api or self.api).get(f"/v1/bills/{bill['id']}")
        return status, after

    async def reimburse(
        self,
        applicant: str,
        amount: str,
        lines: list[tuple[str, str]] = (),  # type: ignore[assignment]
        total: str | None = None,
        pay_mode: str = "bank",
        *,
        send: bool = True,
        **extra: Any,
    ) -> Any:
        body = {
            "bill_code": f"BX-{uuid.uuid4().hex[:12]}",
            "pay_mode": pay_mode,
            "applicant_account": applicant,
            "reimbursement_amount": amount,
            "currency": "CNY",
            "write_offs": [{"loan_bill_id": loan, "amount": value} for loan, value in lines],
            "write_off_total": total if total is not None else _sum(value for _, value in lines),
            **extra,
        }
        return await self.sent(await self.api.post("/v1/bills/reimbursements", body), send)

    async def transfer_loan(self, applicant: str, amount: str) -> str:
        status, bill = await self.loan(applicant, amount, pay_mode="transfer")
        assert status == 201 and bill["status"] == "completed", bill
        return str(bill["id"])

    async def bill(self, bill_id: str) -> dict[str, Any]:
        status, bill = await self.api.get(f"/v1/bills/{bill_id}")
        assert status == 200, bill
        return dict(bill)

    async def flow(self, bill_id: str) -> list[dict[str, Any]]:
        status, body = await self.api.get(f"/v1/bills/{bill_id}/flow")
        assert status == 200, body
        return list(body["flow"])

    async def bill_nodes(self, bill_id: str) -> list[str]:
        return [r["node"] for r in await self.flow(bill_id) if r["subject"] == "bill"]

    async def act(
        self, bill_id: str, action: str, reason: str | None = None, *, send: bool = True
    ) -> tuple[int, Any]:
        """An operator's action; one that saved a new bank attempt (resend_bank) is answered
        bank_submitted, and with `send` the bill is returned as it stands after the send worker."""
        payload = None if reason is None else {"reason": reason}
        status, body = await self.api.post(f"/ops/bills/{bill_id}/actions/{action}", payload)
        if status != 200 or body.get("status") != "bank_submitted" or not send:
            return status, body
        await self.send()
        _, after = await self.api.get(f"/ops/bills/{bill_id}")
        return status, after

    async def company_balance(self, currency: str = "CNY") -> tuple[str, str]:
        ids = company_account_ids(self.api.app_id, currency)
        return await self.api.balance(ids.paying), await self.api.balance(ids.write_off)

    async def events(self) -> list[tuple[str, str]]:
        status, body = await self.api.get("/ops/notifications?status=pending")
        assert status == 200, body
        return sorted((n["event_type"], n["subject_id"]) for n in body["data"])


def _sum(values: Any) -> str:
    from decimal import Decimal

    return str(sum((Decimal(v) for v in values), Decimal("0.00")))


@pytest.fixture
async def sandbox() -> AsyncIterator[SpdbSandbox]:
    bank = SpdbSandbox(SandboxConfig(processing_polls=2, delay_seconds=5))
    server = TestServer(bank.create_app(), host="127.0.0.1")
    await server.start_server()
    bank.url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    yield bank
    await server.close()


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
def start_gateway(aiohttp_client: Any, database_url: str, sandbox: SpdbSandbox) -> GatewayFactory:
    """Builds a gateway on the test's database; call it again after closing one: a restart."""

    async def start(timeout: float = 5.0) -> Gateway:
        from gateway.app import create_app
        from gateway.container import Container

        container = Container()
        settings = bill_settings(database_url, sandbox.url, timeout)  # type: ignore[attr-defined]
        container.settings.override(providers.Object(settings))
        client = await aiohttp_client(create_app(container))
        return Gateway(SignedClient(client), container)

    return start


@pytest.fixture
async def gw(start_gateway: GatewayFactory) -> Gateway:
    return await start_gateway()


async def close(gateway: Gateway) -> None:
    await gateway.api.client.close()


# -- loans -------------------------------------------------------------------------------------


async def test_bank_loan_is_paid_by_the_bank_then_booked_in_one_transaction(
    gw: Gateway, sandbox: SpdbSandbox
) -> None:
    applicant = await gw.applicant()
    status, bill = await gw.loan(applicant, "1000.00")
    assert status == 201, bill
    assert (bill["status"], bill["attempt"], bill["pay_mode"]) == ("bank_processing", 1, "bank")
    assert bill["payee_card_no"] == "************0001" and bill["payer_card_no"] == "*************0001"
    assert bill["payee_name"] == "张三" and bill["payee_bank_name"] == "浦发银行上海分行"
    assert await gw.api.balance(applicant) == "0.00", "nothing is booked before the bank's verified success"
    # the bank was asked once, with the payment id as elecChequeNo
    [paid] = sandbox.payments.values()
    assert paid.elec_cheque_no == bill["payment_id"] and paid.fields["payeeAcctNo"] == CARD_OK

    await gw.poll()
    assert (await gw.bill(bill["id"]))["status"] == "bank_succeeded"
    await gw.work()
    done = await gw.bill(bill["id"])
    assert done["status"] == "completed" and done["completed_at"]
    assert done["loan"] == {"open_amount": "1000.00", "state": "open"}
    assert await gw.api.balance(applicant) == "1000.00"
    assert await gw.company_balance() == ("-1000.00", "0.00")
    assert (await gw.api.ledger_ok())["ok"] is True
    assert await gw.events() == [("bill.completed", bill["id"])], "no payment.* webhook for a bill's payment"


async def test_business_runs_right_after_the_bank_success_even_when_woken_mid_transaction(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener wakes the worker inside the payment's transaction: the worker must wait for
    that commit, not take the bill for undue from what it read before."""
    service = gw.container.bill_context()
    applicant = await gw.applicant()
    _, bill = await gw.loan(applicant, "20.00")
    service.due.take()
    read = asyncio.Event()
    original_get = service.get

    async def get(bill_id: str, app_id: str | None = None) -> Any:
        found = await original_get(bill_id, app_id)
        read.set()
        return found

    monkeypatch.setattr(service, "get", get)
    workers: list[asyncio.Task[int]] = []

    async def wake_worker_before_commit(uow: Any, payment: Any) -> None:
        if payment.status.value == "succeeded":
            workers.append(asyncio.create_task(gw.work()))
            await read.wait()  # the worker has read the bill; this transaction is still open

    gw.container.payments().listeners.append(wake_worker_before_commit)
    await gw.poll()
    assert await workers[0] >= 1
    assert (await gw.bill(bill["id"]))["status"] == "completed"
    assert await gw.api.balance(applicant) == "20.00"


async def test_bill_flow_has_every_node_of_the_seed_merged_with_its_payment(gw: Gateway) -> None:
    applicant = await gw.applicant()
    _, bill = await gw.loan(applicant, "88.00")
    await gw.settle()
    flow = await gw.flow(bill["id"])
    assert [r["at"] for r in flow] == sorted(r["at"] for r in flow)
    assert [r["node"] for r in flow if r["subject"] == "bill"] == [
        "accepted",
        "validated",
        "risk_checked",
        "request_saved",
        "channel_request",  # 8801 sent
        "channel_answer",  # 8801 answer
        "query_answer",  # 8804 answer
        "business_processing",
        "ledger_posted",
        "final_state",
    ]
    payment_nodes = [r["node"] for r in flow if r["subject"] == bill["payment_id"]]
    assert payment_nodes[:4] == ["accepted", "validated", "risk_checked", "routed"]
    assert {"channel_request", "channel_answer", "query_answer", "final_state"} <= set(payment_nodes)
    assert {r["attempt"] for r in flow if r["subject"] != "bill"} == {1}
    validated = next(r for r in flow if r["node"] == "validated" and r["subject"] == "bill")
    assert validated["outcome"] == "ok" and "applicant_account" in validated["detail"]["checks"]
    assert validated["detail"]["params"]["payee_card_no"] == "************0001"
    assert CARD_OK not in json.dumps(flow), "card numbers are masked in the flow log"


async def test_ops_see_the_banks_raw_packets_masked(gw: Gateway) -> None:
    applicant = await gw.applicant()
    _, bill = await gw.loan(applicant, "12.00")
    await gw.settle()
    status, body = await gw.api.get(f"/ops/bills/{bill['id']}/exchanges")
    assert status == 200, body
    assert [(x["operation"], x["attempt"]) for x in body["exchanges"]] == [("8801", 1), ("8804", 1)]
    assert all(x["payment_id"] == bill["payment_id"] for x in body["exchanges"])
    assert "<transCode>8801</transCode>" in body["exchanges"][0]["request"]
    assert CARD_OK not in json.dumps(body) and "6222********0001" in body["exchanges"][0]["request"]
    status, _ = await gw.api.get(f"/ops/bills/{bill['id']}/exchanges".replace(bill["id"], "bill_nope"))
    assert status == 404


async def test_transfer_loan_books_at_once_without_the_bank(gw: Gateway, sandbox: SpdbSandbox) -> None:
    applicant = await gw.applicant(card=None)
    status, bill = await gw.loan(applicant, "300.00", pay_mode="transfer")
    assert status == 201, bill
    assert (bill["status"], bill["attempt"], bill["payment_id"]) == ("completed", 0, None)
    assert bill["payee_card_no"] is None and bill["payer_card_no"] is None
    assert await gw.api.balance(applicant) == "300.00"
    assert await gw.company_balance() == ("-300.00", "0.00")
    assert not sandbox.payments
    nodes = await gw.bill_nodes(bill["id"])
    assert "channel_request" not in nodes and nodes[-3:] == [
        "business_processing",
        "ledger_posted",
        "final_state",
    ]
    assert (await gw.api.ledger_ok())["ok"] is True


# -- reimbursements: the seed's three write-off cases ------------------------------------------

CASES = {
    # case: (loan, R, W, applicant after, loan open after, loan state after, ledger flow kinds)
    "no write-off": ("600.00", "1000.00", "0.00", "1600.00", "600.00", "open", ["reimbursement"]),
    "write-off below R": (
        "600.00",
        "1000.00",
        "400.00",
        "800.00",
        "200.00",
        "open",
        ["reimbursement", "write_off"],
    ),
    "write-off equal to R": ("1000.00", "1000.00", "1000.00", "0.00", "0.00", "written_off", ["write_off"]),
}


@pytest.mark.parametrize(
    ("case", "pay_mode"),
    [
        (case, mode)
        for case in CASES
        for mode in ("bank", "transfer")
        if (case, mode) != ("write-off equal to R", "bank")
    ],
)
async def test_reimbursement_cases_book_the_seeds_flows(gw: Gateway, case: str, pay_mode: str) -> None:
    loan_amount, amount, write_off, after, open_after, state_after, kinds = CASES[case]
    applicant = await gw.applicant()
    loan = await gw.transfer_loan(applicant, loan_amount)
    lines = [(loan, write_off)] if write_off != "0.00" else []
    status, bill = await gw.reimburse(applicant, amount, lines, write_off, pay_mode=pay_mode)
    assert status == 201, bill
    assert bill["real_amount"] == _sum([amount, f"-{write_off}"])
    if pay_mode == "bank":
        assert bill["status"] == "bank_processing"
        await gw.settle()
    done = await gw.bill(bill["id"])
    assert done["status"] == "completed", done
    assert await gw.api.balance(applicant) == after
    real = _sum([amount, f"-{write_off}"])
    assert await gw.company_balance() == (_sum([f"-{loan_amount}", f"-{real}"]), write_off)
    loan_bill = await gw.bill(loan)
    assert loan_bill["loan"] == {"open_amount": open_after, "state": state_after}
    _, entries = await gw.api.get(f"/v1/accounts/{applicant}/entries")
    assert sorted(e["kind"] for e in entries["entries"][:-1]) == sorted(kinds)
    nodes = await gw.bill_nodes(bill["id"])
    assert ("write_off" in nodes) == (write_off != "0.00")
    if write_off != "0.00":
        record = next(r for r in await gw.flow(bill["id"]) if r["node"] == "write_off")
        assert record["detail"]["lines"] == [
            {
                "loan_bill_id": loan,
                "amount": write_off,
                "open_before": loan_amount,
                "open_after": open_after,
                "state": state_after,
            }
        ]
    assert (await gw.api.ledger_ok())["ok"] is True
    assert ("bill.completed", bill["id"]) in await gw.events()


async def test_a_loan_reserved_by_a_bill_in_process_refuses_a_second_write_off(
    gw: Gateway, sandbox: SpdbSandbox
) -> None:
    applicant = await gw.applicant()
    loan = await gw.transfer_loan(applicant, "500.00")
    _, first = await gw.reimburse(applicant, "800.00", [(loan, "500.00")])
    status, second = await gw.reimburse(applicant, "900.00", [(loan, "500.00")])
    assert first["status"] == "bank_processing"
    assert status == 422 and second["error"]["code"] == "WRITE_OFF_EXCEEDS_OPEN_AMOUNT", second
    assert len(sandbox.payments) == 1, "the refused bill never reached the bank"
    await gw.settle()
    assert (await gw.bill(first["id"]))["status"] == "completed"
    assert (await gw.bill(loan))["loan"] == {"open_amount": "0.00", "state": "written_off"}
    assert (await gw.api.ledger_ok())["ok"] is True


# -- checks refused: stored, answered, logged --------------------------------------------------


@dataclass
class Broken:
    kind: str  # loan | reimbursement
    change: dict[str, Any]
    code: str
    status: int
    check: str
    node: str = "validated"
    applicant_card: str | None = CARD_OK


BROKEN = {
    "pay mode": Broken("loan", {"pay_mode": "cash"}, "PAY_MODE_UNSUPPORTED", 400, "pay_mode"),
    "bill code": Broken("loan", {"bill_code": "X" * 33}, "BILL_CODE_INVALID", 400, "bill_code"),
    "currency": Broken(
        "loan", {"currency": "EUR", "pay_mode": "transfer"}, "CURRENCY_UNSUPPORTED", 400, "currency"
    ),
    "bank only in CNY": Broken(
        "loan",
        {"currency": "USD", "exchange_rate": "7.1"},
        "NON_CNY_REQUIRES_TRANSFER",
        422,
        "pay_mode_currency",
    ),
    "exchange rate": Broken(
        "loan", {"currency": "USD", "pay_mode": "transfer"}, "EXCHANGE_RATE_INVALID", 400, "exchange_rate"
    ),
    "card numbers": Broken("loan", {}, "CARD_NUMBER_REQUIRED", 400, "card_numbers", applicant_card=None),
    "amount": Broken("loan", {"amount": "0"}, "INVALID_AMOUNT", 400, "amounts"),
    "applicant": Broken(
        "loan",
        {"applicant_account": "acc_nobody", "pay_mode": "transfer"},
        "APPLICANT_NOT_FOUND",
        422,
        "applicant",
    ),
    "applicant card": Broken(
        "loan", {"payee_card_no": "6222020000000099"}, "APPLICANT_ACCOUNT_INVALID", 422, "applicant_account"
    ),
    "real amount": Broken(
        "reimbursement",
        {"pay_mode": "transfer", "reimbursement_amount": "100.00", "write_offs": [("LOAN", "200.00")]},
        "REAL_AMOUNT_NEGATIVE",
        422,
        "real_amount",
    ),
    "bank needs a real amount": Broken(
        "reimbursement",
        {"reimbursement_amount": "200.00", "write_offs": [("LOAN", "200.00")]},
        "BANK_MODE_NEEDS_POSITIVE_AMOUNT",
        422,
        "bank_real_amount",
    ),
    "linked loan": Broken(
        "reimbursement", {"write_offs": [("bill_nope", "10.00")]}, "LINKED_LOAN_INVALID", 422, "linked_loans"
    ),
    "write-off over open amount": Broken(
        "reimbursement",
        {"reimbursement_amount": "1000.00", "write_offs": [("LOAN", "500.01")]},
        "WRITE_OFF_EXCEEDS_OPEN_AMOUNT",
        422,
        "linked_loans",
    ),
    "write-off sum": Broken(
        "reimbursement",
        {"write_offs": [("LOAN", "100.00")], "write_off_total": "150.00"},
        "WRITE_OFF_SUM_MISMATCH",
        400,
        "write_off_total",
    ),
    "single loan limit": Broken(
        "loan", {"amount": "50000.01"}, "SINGLE_BILL_LIMIT_EXCEEDED", 422, "single_bill_limit", "risk_checked"
    ),
    "single reimbursement limit": Broken(
        "reimbursement",
        {"reimbursement_amount": "100000.01"},
        "SINGLE_BILL_LIMIT_EXCEEDED",
        422,
        "single_bill_limit",
        "risk_checked",
    ),
    "open loans": Broken("loan", {"open_loans": 2}, "TOO_MANY_OPEN_LOANS", 422, "open_loans", "risk_checked"),
    "linked loans": Broken(
        "reimbursement",
        {"write_offs": [("LOAN", "1.00"), ("LOAN2", "1.00")]},
        "TOO_MANY_LINKED_LOANS",
        422,
        "linked_loan_count",
        "risk_checked",
    ),
}


@pytest.mark.parametrize("rule", list(BROKEN), ids=list(BROKEN))
async def test_each_broken_rule_is_stored_refused_and_logged(gw: Gateway, rule: str) -> None:
    broken = BROKEN[rule]
    change = dict(broken.change)
    applicant = await gw.applicant(card=broken.applicant_card)
    loans = {}
    if broken.kind == "reimbursement":
        # the applicant's loans: LOAN has 500.00 open, LOAN2 10.00
        loans["LOAN"] = await gw.transfer_loan(applicant, "500.00")
        if "LOAN2" in json.dumps(change):
            loans["LOAN2"] = await gw.transfer_loan(applicant, "10.00")
    for _ in range(change.pop("open_loans", 0)):
        await gw.transfer_loan(applicant, "10.00")
    if broken.kind == "loan":
        status, body = await gw.loan(applicant, **change)
    else:
        lines = [(loans.get(name, name), value) for name, value in change.pop("write_offs", [])]
        amount = change.pop("reimbursement_amount", "300.00")
        status, body = await gw.reimburse(applicant, amount, lines, **change)
    assert status == broken.status, body
    error = body["error"]
    assert error["code"] == broken.code and error["bill_id"].startswith("bill_") and error["message"]
    stored = await gw.bill(error["bill_id"])
    expected_status = "validation_failed" if broken.node == "validated" else "risk_rejected"
    assert stored["status"] == expected_status
    assert stored["failure"]["code"] == broken.code and stored["attempt"] == 0
    flow = await gw.flow(error["bill_id"])
    record = next(r for r in flow if r["node"] == broken.node)
    assert record["outcome"] == "failed" and record["detail"]["failed_check"] == broken.check
    assert (
        record["detail"]["code"] == broken.code
        and record["detail"]["params"]["bill_code"] == stored["bill_code"]
    )
    assert [r["node"] for r in flow][-1] == "request_saved", "saved, and nothing paid or booked"
    status, ops = await gw.api.get(f"/ops/bills/{error['bill_id']}")
    assert ops["allowed_actions"] == ["revalidate"]


async def test_a_new_body_for_a_code_in_process_is_refused_and_not_stored(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_PROCESSING)
    _, first = await gw.loan(applicant, "100.00", bill_code="JK-same")
    assert first["status"] == "bank_processing"
    status, body = await gw.loan(applicant, "200.00", bill_code="JK-same")
    assert status == 409 and body["error"]["code"] == "BILL_IN_PROCESS"
    assert body["error"]["bill_id"] == first["id"]
    status, again = await gw.loan(applicant, "100.00", bill_code="JK-same")
    assert status == 200 and again["id"] == first["id"], "the same body gets the existing bill"


async def test_a_new_body_for_a_completed_code_is_an_idempotency_conflict(gw: Gateway) -> None:
    applicant = await gw.applicant()
    _, first = await gw.loan(applicant, "100.00", pay_mode="transfer", bill_code="JK-done")
    status, body = await gw.loan(applicant, "100.00", pay_mode="bank", bill_code="JK-done")
    assert status == 409 and body["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert body["error"]["bill_id"] == first["id"]


async def test_repeat_of_a_refused_bill_answers_the_stored_bill(gw: Gateway) -> None:
    applicant = await gw.applicant()
    status, body = await gw.loan(applicant, "0", bill_code="JK-zero")
    assert status == 400
    status, again = await gw.loan(applicant, "0", bill_code="JK-zero")
    assert (
        status == 200 and again["id"] == body["error"]["bill_id"] and again["status"] == "validation_failed"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "12.345"},
        {"amount": 12},
        {"amount": "-5.00"},
        {"currency": "XYZ"},
        {"exchange_rate": "seven"},
        {"unknown": 1},
        {"applicant_account": "bad id!"},
        {"payee_card_no": "12-34"},
    ],
    ids=lambda c: next(iter(c)),
)
async def test_malformed_bodies_are_refused_and_write_nothing(gw: Gateway, change: dict[str, Any]) -> None:
    applicant = await gw.applicant()
    status, body = await gw.loan(applicant, bill_code="JK-malformed", **change)
    assert status == 400, body
    assert "bill_id" not in body["error"]
    status, _ = await gw.api.get("/v1/bills?bill_code=JK-malformed")
    assert status == 404


# -- a restart between the bank's answers ------------------------------------------------------


async def test_bill_left_processing_is_resolved_by_the_poller_after_restarts(
    start_gateway: GatewayFactory, sandbox: SpdbSandbox
) -> None:
    first = await start_gateway()
    applicant = await first.applicant(card=CARD_PROCESSING)
    _, bill = await first.loan(applicant, "700.00")
    assert bill["status"] == "bank_processing"
    await close(first)

    second = await start_gateway()  # a new process: nothing in memory
    await second.poll(2)
    assert (await second.bill(bill["id"]))["status"] == "bank_processing", "8804 still says processing"
    await second.poll()
    assert (await second.bill(bill["id"]))["status"] == "bank_succeeded"
    await close(second)  # crash before business processing

    third = await start_gateway()
    assert await third.work() >= 1
    done = await third.bill(bill["id"])
    assert done["status"] == "completed"
    assert await third.api.balance(applicant) == "700.00"
    assert len(sandbox.payments) == 1, "queried, never sent again"
    answers = [r for r in await third.flow(bill["id"]) if r["node"] == "query_answer"]
    assert len([r for r in answers if r["subject"] != "bill"]) == 3
    assert (await third.api.ledger_ok())["ok"] is True


async def test_worker_sends_an_attempt_a_crash_left_unsent(gw: Gateway, sandbox: SpdbSandbox) -> None:
    from dataclasses import replace

    from core.bills.model import BillStatus

    applicant = await gw.applicant()
    _, loan = await gw.loan(applicant, "10.00", pay_mode="transfer")
    # a bill saved as bank_submitted whose payment was never saved (the process died in between)
    async with gw.container.uow() as uow:
        stored = await uow.bills.get(loan["id"])
        crashed = replace(
            stored,
            id="bill_crashed",
            bill_code="JK-crashed",
            pay_mode="bank",
            status=BillStatus.BANK_SUBMITTED,
            attempt=1,
            payee_card_no=CARD_OK,
            payer_card_no=PAYER_CARD,
            payee_name="张三",
            completed_at=None,
            loan_open_amount=None,
            loan_state=None,
            updated_at=stored.updated_at.replace(year=2020),
        )
        await uow.bills.add(crashed)
        await uow.commit()
    assert await gw.send() == 1, "found in the database: no process queued it"
    assert (await gw.bill("bill_crashed"))["status"] == "bank_processing"
    await gw.settle()
    assert (await gw.bill("bill_crashed"))["status"] == "completed"
    assert len(sandbox.payments) == 1


# -- error handling (差错处理) -------------------------------------------------------------------


async def operator_records(gw: Gateway, bill_id: str) -> list[dict[str, Any]]:
    return [r for r in await gw.flow(bill_id) if r["node"] == "operator_action"]


async def test_revalidate_accepts_a_bill_once_its_data_allows(gw: Gateway) -> None:
    applicant = await gw.applicant()
    first = await gw.transfer_loan(applicant, "100.00")
    await gw.transfer_loan(applicant, "100.00")
    status, body = await gw.loan(applicant, "300.00")  # max_open_loans = 2
    assert status == 422 and body["error"]["code"] == "TOO_MANY_OPEN_LOANS"
    bill_id = body["error"]["bill_id"]
    status, again = await gw.act(bill_id, "revalidate", "still two loans open")
    assert status == 200 and again["status"] == "risk_rejected"
    _, repaid = await gw.reimburse(applicant, "100.00", [(first, "100.00")], pay_mode="transfer")
    assert repaid["status"] == "completed"
    status, accepted = await gw.act(bill_id, "revalidate", "loan repaid")
    assert status == 200 and accepted["status"] == "bank_processing" and accepted["attempt"] == 1
    await gw.settle()
    assert (await gw.bill(bill_id))["status"] == "completed"
    # the actor is the login of the operator who acted (the demo operator of the operator role)
    records = await operator_records(gw, bill_id)
    assert [(r["actor"], r["detail"]["reason"]) for r in records] == [
        ("demo-operator", "still two loans open"),
        ("demo-operator", "loan repaid"),
    ]
    status, refused = await gw.act(bill_id, "revalidate")
    assert status == 409 and refused["error"]["code"] == "ACTION_PRECONDITION_FAILED"
    assert "validation or the risk check failed" in refused["error"]["message"]
    assert (await operator_records(gw, bill_id))[-1]["outcome"] == "failed"


async def test_resend_bank_makes_a_new_attempt_only_after_a_rejection(
    gw: Gateway, sandbox: SpdbSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    applicant = await gw.applicant(card=CARD_REJECTED)
    status, bill = await gw.loan(applicant, "250.00")
    assert status == 201 and bill["status"] == "bank_failed"
    assert bill["failure"]["code"] == "B2E0005"
    assert ("bill.failed", bill["id"]) in await gw.events()
    monkeypatch.delitem(spdb_sandbox.SCENARIOS_BY_SUFFIX, "2002")  # the bank fixed the authorisation
    status, resent = await gw.act(bill["id"], "resend_bank", "authorisation fixed")
    assert status == 200, resent
    assert (resent["status"], resent["attempt"]) == ("bank_processing", 2)
    assert resent["payment_id"] != bill["payment_id"]
    assert list(sandbox.payments) == [resent["payment_id"]], "new elecChequeNo; the rejected one paid nothing"
    status, refused = await gw.act(bill["id"], "resend_bank")
    assert status == 409 and "bank result is failed" in refused["error"]["message"]
    await gw.settle()
    assert (await gw.bill(bill["id"]))["status"] == "completed"
    assert await gw.api.balance(applicant) == "250.00"
    _, exchanges = await gw.api.get(f"/ops/bills/{bill['id']}/exchanges")
    assert [(x["attempt"], x["operation"]) for x in exchanges["exchanges"]] == [
        (1, "8801"),
        (2, "8801"),
        (2, "8804"),
    ]
    packet_ids = {x["request"].split("<packetID>")[1].split("<")[0] for x in exchanges["exchanges"]}
    assert len(packet_ids) == 3
    attempts = {r["attempt"] for r in await gw.flow(bill["id"]) if r["subject"] != "bill"}
    assert attempts == {1, 2}


async def test_requery_bank_asks_8804_only_while_the_bank_is_processing(
    gw: Gateway, sandbox: SpdbSandbox
) -> None:
    """requery_bank answers 202 with the bill as it is; the query poller's round asks 8804."""
    applicant = await gw.applicant(card=CARD_PROCESSING)
    _, bill = await gw.loan(applicant, "40.00")
    for expected in ("bank_processing", "bank_processing"):
        status, body = await gw.act(bill["id"], "requery_bank")
        assert status == 202 and body["status"] == "bank_processing", body
        await gw.poll()
        assert (await gw.bill(bill["id"]))["status"] == expected
    status, body = await gw.act(bill["id"], "requery_bank", "bank called back")
    assert status == 202 and body["status"] == "bank_processing", body
    await gw.poll()
    assert (await gw.bill(bill["id"]))["status"] == "bank_succeeded"
    await gw.work()  # the bill worker's business processing, right after the success
    assert (await gw.bill(bill["id"]))["status"] == "completed"
    _, exchanges = await gw.api.get(f"/ops/bills/{bill['id']}/exchanges")
    assert [x["operation"] for x in exchanges["exchanges"]] == ["8801", "8804", "8804", "8804"]
    assert len(sandbox.payments) == 1
    status, refused = await gw.act(bill["id"], "requery_bank")
    assert status == 409 and refused["error"]["code"] == "ACTION_PRECONDITION_FAILED"
    assert await gw.api.balance(applicant) == "40.00"


async def test_rerun_business_after_the_data_is_fixed(gw: Gateway) -> None:
    applicant = await gw.applicant()
    loan = await gw.transfer_loan(applicant, "400.00")
    spent_to = await gw.api.open_account(owner="shop")
    status, _ = await gw.api.pay(amount="400.00", payer_account=applicant, payee_account=spent_to)
    assert status == 201
    status, bill = await gw.reimburse(applicant, "400.00", [(loan, "400.00")], pay_mode="transfer")
    assert status == 201 and bill["status"] == "business_failed"
    assert bill["failure"]["code"] == "INSUFFICIENT_FUNDS"
    status, again = await gw.act(bill["id"], "rerun_business", "not yet")
    assert status == 200 and again["status"] == "business_failed"
    await gw.api.fund(applicant, "400.00")
    status, done = await gw.act(bill["id"], "rerun_business", "applicant funded")
    assert status == 200 and done["status"] == "completed"
    assert (await gw.bill(loan))["loan"] == {"open_amount": "0.00", "state": "written_off"}
    status, refused = await gw.act(bill["id"], "rerun_business")
    assert status == 409 and refused["error"]["code"] == "ACTION_PRECONDITION_FAILED"
    assert (await gw.api.ledger_ok())["ok"] is True


async def test_rerun_business_is_refused_while_the_bank_has_not_paid(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_PROCESSING)
    _, bill = await gw.loan(applicant, "40.00")
    status, refused = await gw.act(bill["id"], "rerun_business")
    assert status == 409 and "after the bank succeeded" in refused["error"]["message"]


async def test_switch_to_transfer_only_after_the_bank_refused(gw: Gateway, sandbox: SpdbSandbox) -> None:
    applicant = await gw.applicant(card=CARD_REFUSED)
    _, bill = await gw.loan(applicant, "90.00")
    status, refused = await gw.act(bill["id"], "switch_to_transfer")
    assert status == 409 and refused["error"]["code"] == "ACTION_PRECONDITION_FAILED", "still processing"
    await gw.settle()
    failed = await gw.bill(bill["id"])
    assert failed["status"] == "bank_failed" and failed["failure"]["code"] == "TRANS_STATUS_8"
    status, done = await gw.act(bill["id"], "switch_to_transfer", "finance paid by hand")
    assert status == 200 and (done["status"], done["pay_mode"]) == ("completed", "transfer")
    assert await gw.api.balance(applicant) == "90.00"
    status, refused = await gw.act(bill["id"], "switch_to_transfer")
    assert status == 409
    status, refused = await gw.act(bill["id"], "resend_bank")
    assert status == 409, "a bill in transfer mode never returns to the bank"
    assert len(sandbox.payments) == 1


async def test_unknown_action_and_unknown_bill(gw: Gateway) -> None:
    status, body = await gw.act("bill_nope", "revalidate")
    assert status == 404 and body["error"]["code"] == "BILL_NOT_FOUND"
    applicant = await gw.applicant()
    _, bill = await gw.loan(applicant, "5.00")
    status, body = await gw.act(bill["id"], "pay_twice")
    assert status == 400 and body["error"]["field"] == "action"


async def test_concurrent_resends_make_one_new_attempt(
    gw: Gateway, sandbox: SpdbSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    applicant = await gw.applicant(card=CARD_REJECTED)
    _, bill = await gw.loan(applicant, "60.00")
    monkeypatch.delitem(spdb_sandbox.SCENARIOS_BY_SUFFIX, "2002")
    results = await asyncio.gather(*(gw.act(bill["id"], "resend_bank") for _ in range(3)))
    assert sorted(status for status, _ in results) == [200, 409, 409]
    assert (await gw.bill(bill["id"]))["attempt"] == 2
    assert len(sandbox.payments) == 1
    await gw.settle()
    assert await gw.api.balance(applicant) == "60.00"


async def test_concurrent_switches_and_reruns_book_once(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_REFUSED)
    _, bill = await gw.loan(applicant, "70.00")
    await gw.settle()
    results = await asyncio.gather(
        *(gw.act(bill["id"], "switch_to_transfer") for _ in range(2)),
        *(gw.act(bill["id"], "rerun_business") for _ in range(2)),
        *(gw.act(bill["id"], "resend_bank") for _ in range(2)),
    )
    assert [s for s, _ in results].count(200) == 1, results
    assert (await gw.bill(bill["id"]))["status"] == "completed"
    assert await gw.api.balance(applicant) == "70.00"
    assert (await gw.api.ledger_ok())["ok"] is True


# -- faults of the bank ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "timeout"),
    [(CARD_TIMEOUT, 0.5), (CARD_MALFORMED, 5.0), (CARD_UNSIGNED, 5.0), (CARD_BAD_SIGNATURE, 5.0)],
    ids=["timeout", "malformed", "unsigned", "bad signature"],
)
async def test_untrustworthy_8801_answers_leave_the_bill_unknown_until_8804(
    start_gateway: GatewayFactory, sandbox: SpdbSandbox, card: str, timeout: float
) -> None:
    gw = await start_gateway(timeout)
    applicant = await gw.applicant(card=card)
    status, bill = await gw.loan(applicant, "30.00")
    assert status == 201 and bill["status"] == "bank_unknown", bill
    assert await gw.api.balance(applicant) == "0.00"
    status, body = await gw.act(bill["id"], "switch_to_transfer")
    assert status == 409, "an unknown outcome is never a failure"
    await gw.settle()
    assert (await gw.bill(bill["id"]))["status"] == "completed"
    assert await gw.api.balance(applicant) == "30.00"
    assert len(sandbox.payments) == 1


async def test_bank_system_error_stays_unknown_while_8804_knows_nothing(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_SYSTEM_ERROR)
    _, bill = await gw.loan(applicant, "30.00")
    assert bill["status"] == "bank_unknown"
    await gw.settle(5)
    assert (await gw.bill(bill["id"]))["status"] == "bank_unknown", "never failed by a timer"
    status, stuck = await gw.api.get("/ops/payments/stuck")
    assert [(p["id"], p["escalated"]) for p in stuck["payments"]] == [(bill["payment_id"], True)]
    assert await gw.api.balance(applicant) == "0.00"


async def test_unknown_transfer_status_never_completes_a_bill(gw: Gateway) -> None:
    applicant = await gw.applicant(card=CARD_UNKNOWN_STATUS)
    _, bill = await gw.loan(applicant, "30.00")
    await gw.settle(3)
    assert (await gw.bill(bill["id"]))["status"] == "bank_unknown", "the bill follows its payment"
    status, payment = await gw.api.get(f"/v1/payments/{bill['payment_id']}")
    assert payment["status"] == "unknown" and payment["payee_account"] == "************0007"
    assert await gw.api.balance(applicant) == "0.00"


# -- isolation ---------------------------------------------------------------------------------


async def test_an_app_sees_only_its_own_bills(gw: Gateway) -> None:
    applicant = await gw.applicant()
    _, bill = await gw.loan(applicant, "10.00", bill_code="JK-mine", pay_mode="transfer")
    for path in (f"/v1/bills/{bill['id']}", f"/v1/bills/{bill['id']}/flow", "/v1/bills?bill_code=JK-mine"):
        status, body = await gw.other.get(path)
        assert status == 404 and body["error"]["code"] == "BILL_NOT_FOUND", path
    # another app can neither name this applicant nor write off this app's loan
    other_applicant = await gw.applicant(api=gw.other)
    status, body = await gw.other.post(
        "/v1/bills/loans",
        {
            "bill_code": "JK-mine",
            "pay_mode": "transfer",
            "applicant_account": applicant,
            "amount": "1.00",
            "currency": "CNY",
        },
    )
    assert status == 422 and body["error"]["code"] == "APPLICANT_NOT_FOUND"
    status, body = await gw.other.post(
        "/v1/bills/reimbursements",
        {
            "bill_code": "BX-theirs",
            "pay_mode": "transfer",
            "applicant_account": other_applicant,
            "reimbursement_amount": "5.00",
            "currency": "CNY",
            "write_off_total": "5.00",
            "write_offs": [{"loan_bill_id": bill["id"], "amount": "5.00"}],
        },
    )
    assert status == 422 and body["error"]["code"] == "LINKED_LOAN_INVALID"


async def test_applicant_card_is_masked_in_account_answers(gw: Gateway) -> None:
    applicant = await gw.applicant()
    _, account = await gw.api.get(f"/v1/accounts/{applicant}")
    assert account["bank_card"] == {
        "card_no": "************0001",
        "name": "张三",
        "bank_name": "浦发银行上海分行",
        "bank_no": None,
    }


# -- the embedded default ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_embedded_default_pays_bills_through_the_spdb_simulator(
    aiohttp_client: Any, database_url: str
) -> None:
    """The shipped paygate.toml (moved to a free port): the SPDB simulator starts with the gateway
    and bank-mode bills are paid there."""
    from gateway.app import create_app
    from gateway.container import Container

    shipped = tomllib.loads((ROOT / "paygate.toml").read_text())
    port = free_port()
    spdb = {
        **shipped["channels"]["spdb"],
        "sandbox_port": port,
        "front_machine_url": f"http://127.0.0.1:{port}/front",
        "signing_server_url": f"http://127.0.0.1:{port}/signer",
        "sandbox_state_file": ":memory:",  # the simulator's memory: this test's only
    }
    assert spdb["sandbox"] is True
    rules = [r for r in shipped["routing"]["rules"] if r["channel"] in {"internal_transfer", "spdb"}]
    assert any(r["pay_method"] == "bank" and r["channel"] == "spdb" for r in rules)
    settings = make_settings(
        database_url,
        channels={"spdb": spdb},
        routing={"rules": rules},
        bills=shipped["bills"],
        sandbox=True,
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    gw = Gateway(SignedClient(await aiohttp_client(create_app(container))), container)
    applicant = await gw.applicant()
    status, bill = await gw.loan(applicant, "66.00")
    assert status == 201 and bill["status"] == "bank_processing", bill
    assert bill["payer_card_no"].endswith("0001")
    status, asked = await gw.act(bill["id"], "requery_bank")
    assert status == 202 and asked["status"] == "bank_processing", asked
    await gw.poll()
    await gw.work()
    assert (await gw.bill(bill["id"]))["status"] == "completed"
    assert await gw.api.balance(applicant) == "66.00"


async def test_concurrent_requery_requests_make_one_query(gw: Gateway, sandbox: SpdbSandbox) -> None:
    """Two operators' requery_bank at once: both answered 202; the payment is due once, and the
    poller's claim (on PostgreSQL two processes' pollers at once) asks 8804 once."""
    from gateway.workers.query_poller import QueryPoller

    applicant = await gw.applicant(card=CARD_PROCESSING)
    _, bill = await gw.loan(applicant, "40.00")
    answers = await asyncio.gather(*(gw.act(bill["id"], "requery_bank", f"operator {n}") for n in range(2)))
    assert [status for status, _ in answers] == [202, 202], answers
    pollers = 1 if gw.container.engine().dialect.name == "sqlite" else 2  # SQLite: one process
    rounds = await asyncio.gather(
        *(
            QueryPoller(gw.container.engine(), gw.container.payments(), batch=50).run_once()
            for _ in range(pollers)
        )
    )
    assert sum(rounds) == 1, rounds
    _, exchanges = await gw.api.get(f"/ops/bills/{bill['id']}/exchanges")
    assert [x["operation"] for x in exchanges["exchanges"]] == ["8801", "8804"]
