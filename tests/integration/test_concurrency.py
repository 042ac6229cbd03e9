"""Concurrent requests through the HTTP app, on SQLite and PostgreSQL: duplicate payments,
fundings, bills and nonces, first uses of shared accounts, and operators acting on one payout or
one bill at once. Every case: no 5xx, and the final state is the one a serial order would give."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from paygate_testkit import APP_ID, APP_SECRET, SignedClient, make_settings

from core.operators.model import Role
from gateway.storage.bills import company_account_ids
from plugins.alipay_openapi.sandbox import SANDBOX_GATEWAY
from plugins.alipay_payout.client import TRANSFER_METHOD
from plugins.alipay_payout.sandbox import (
    ALIPAY_PUBLIC_KEY_FILE,
    APP_PRIVATE_KEY_FILE,
    SANDBOX_APP_ID,
    PayoutSimulator,
    create_payout_sandbox_app,
    load_sandbox_keys,
)
from plugins.spdb.sandbox import SpdbSandbox
from plugins.spdb.sandbox_scenarios import SandboxConfig

N = 20
KEYS = Path(__file__).parents[2] / "cassettes" / "alipay_payout" / "keys"
BILLS = {
    "max_loan_amount": {"CNY": "50000"},
    "max_reimbursement_amount": {"CNY": "100000"},
    "max_open_loans": 50,
    "max_linked_loans": 1,
    "supported_currencies": ["CNY"],
    "bank_currencies": ["CNY"],
    "payer_card_no": "95200078800000001",  # the SPDB simulator's payer account
}
CARD_OK = "6222020000000001"  # the SPDB simulator pays it
CARD_REFUSED = "6222020000003003"  # accepted by 8801, refused by 8804


def no_server_error(answers: list[tuple[int, Any]]) -> list[int]:
    statuses = [status for status, _ in answers]
    assert all(status < 500 for status in statuses), answers
    return statuses


@dataclass
class Gateway:
    """The gateway under test, the channel simulators it pays through and its workers."""

    api: SignedClient
    container: Any
    alipay: web.Application
    bank: SpdbSandbox

    def payouts_sent(self) -> list[dict[str, Any]]:
        """uni.transfer requests that reached the Alipay payout simulator."""
        return [biz for name, biz in self.alipay[SANDBOX_GATEWAY].calls if name == TRANSFER_METHOD]

    async def send(self, holder: str = "test-worker") -> int:
        """The bill send worker's round: the 8801 calls of the attempts intake saved."""
        from gateway.workers.bill_sends import BillSendWorker

        return await BillSendWorker(self.container.bill_sending(), 50, holder).run_once()

    async def settle(self) -> None:
        """What the workers of a running gateway do: send 8801, poll 8804, business processing."""
        from gateway.workers.bills import BillWorker
        from gateway.workers.query_poller import QueryPoller

        await self.send()
        await QueryPoller(self.container.engine(), self.container.payments(), batch=50).run_once()
        await BillWorker(self.container.bill_recovery(), batch=50).run_once()


@pytest.fixture
async def env(aiohttp_client: Any, database_url: str) -> AsyncIterator[Gateway]:
    """The gateway with bills (the SPDB simulator as the bank) and Alipay payouts (its simulator)."""
    from gateway.app import create_app
    from gateway.container import Container

    alipay_app = create_payout_sandbox_app(PayoutSimulator(load_sandbox_keys(KEYS)))
    alipay = TestServer(alipay_app, host="127.0.0.1")
    bank = SpdbSandbox(SandboxConfig(processing_polls=0))
    bank_server = TestServer(bank.create_app(), host="127.0.0.1")
    for server in (alipay, bank_server):
        await server.start_server()
    bank_url = str(bank_server.make_url("")).rstrip("/")
    settings = make_settings(
        database_url,
        apps={APP_ID: {"secret": APP_SECRET}},
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {"name": "alipay payouts", "pay_method": "alipay", "channel": "alipay_payout"},
                {"name": "bank", "pay_method": "bank", "channel": "spdb", "currency": "CNY"},
            ]
        },
        channels={
            "alipay_payout": {
                "openapi": {
                    "gateway_url": str(alipay.make_url("/gateway.do")),
                    "app_id": SANDBOX_APP_ID,
                    "app_private_key": (KEYS / APP_PRIVATE_KEY_FILE).read_text(),
                    "alipay_public_key": (KEYS / ALIPAY_PUBLIC_KEY_FILE).read_text(),
                    "timeout_seconds": 5,
                },
                "query_schedule_seconds": [0, 0, 0, 0],
            },
            "spdb": {
                "front_machine_url": f"{bank_url}/front",
                "signing_server_url": f"{bank_url}/signer",
                "sandbox": False,
                "timeout_seconds": 5,
                "query_backoff_seconds": [0.001],
                "max_polls": 4,
            },
        },
        bills=BILLS,
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    api = SignedClient(await aiohttp_client(create_app(container)))
    yield Gateway(api, container, alipay_app, bank)
    for server in (alipay, bank_server):
        await server.close()


@pytest.fixture
def gw(env: Gateway) -> SignedClient:
    return env.api


async def entries(api: SignedClient, account_id: str) -> list[dict[str, Any]]:
    status, body = await api.get(f"/v1/accounts/{account_id}/entries?limit=100")
    assert status == 200, body
    return list(body["entries"])


# -- payments --------------------------------------------------------------------------------
async def test_the_same_payment_sent_concurrently_is_made_once(gw: SignedClient) -> None:
    payer, payee = await gw.open_account(owner="payer"), await gw.open_account(owner="payee")
    await gw.fund(payer, "100.00")
    body = {
        "out_request_no": "same-payment",
        "pay_method": "transfer",
        "currency": "CNY",
        "amount": "1.00",
        "payer_account": payer,
        "payee_account": payee,
    }
    answers = await asyncio.gather(*(gw.post("/v1/payments", body) for _ in range(N)))
    assert sorted(no_server_error(answers)) == [200] * (N - 1) + [201], answers
    assert len({answer["id"] for _, answer in answers}) == 1
    assert {answer["status"] for _, answer in answers} == {"succeeded"}
    assert (await gw.balance(payer), await gw.balance(payee)) == ("99.00", "1.00")
    assert len({e["txn_id"] for e in await entries(gw, payee)}) == 1, "one ledger transaction"
    assert (await gw.ledger_ok())["ok"] is True


async def test_one_request_number_with_different_bodies_makes_one_payment(gw: SignedClient) -> None:
    payer, payee = await gw.open_account(owner="payer"), await gw.open_account(owner="payee")
    await gw.fund(payer, "1000.00")
    answers = await asyncio.gather(
        *(
            gw.pay(
                out_request_no="same-number", amount=f"{i + 1}.00", payer_account=payer, payee_account=payee
            )
            for i in range(N)
        )
    )
    assert sorted(no_server_error(answers)) == [201] + [409] * (N - 1), answers
    assert {a["error"]["code"] for s, a in answers if s == 409} == {"IDEMPOTENCY_CONFLICT"}
    [made] = [a for s, a in answers if s == 201]
    assert await gw.balance(payee) == made["amount"]
    assert len(await entries(gw, payee)) == 1


async def test_crossed_payments_draining_two_accounts_never_fail_on_the_database(gw: SignedClient) -> None:
    """Payments both ways between two accounts at once (the same rows locked by payments in
    opposite directions), more than the balances allow."""
    a, b = await gw.open_account(owner="a"), await gw.open_account(owner="b")
    await gw.fund(a, "30.00")
    await gw.fund(b, "30.00")
    answers = await asyncio.gather(
        *(gw.pay(amount="20.00", payer_account=(a, b)[i % 2], payee_account=(b, a)[i % 2]) for i in range(N))
    )
    no_server_error(answers)
    succeeded = [i for i, (s, body) in enumerate(answers) if s == 201 and body["status"] == "succeeded"]
    refused = [body for s, body in answers if s != 201 or body["status"] != "succeeded"]
    assert all(
        (body.get("error") or body.get("failure") or {}).get("code") == "INSUFFICIENT_FUNDS"
        for body in refused
    ), refused
    a_to_b = sum(1 for i in succeeded if i % 2 == 0)
    b_to_a = len(succeeded) - a_to_b
    expected_a = Decimal("30.00") + 20 * (b_to_a - a_to_b)
    assert (await gw.balance(a), await gw.balance(b)) == (str(expected_a), str(Decimal("60.00") - expected_a))
    assert (await gw.ledger_ok())["ok"] is True


async def test_the_same_funding_sent_concurrently_credits_once(gw: SignedClient) -> None:
    account = await gw.open_account()
    body = {"out_request_no": "same-funding", "amount": "10.00", "currency": "CNY"}
    answers = await asyncio.gather(*(gw.post(f"/ops/accounts/{account}/fund", body) for _ in range(N)))
    assert sorted(no_server_error(answers)) == [200] * (N - 1) + [201], answers
    assert len({a["id"] for _, a in answers}) == 1
    assert await gw.balance(account) == "10.00"


async def test_one_funding_number_with_different_bodies_credits_one_of_them(gw: SignedClient) -> None:
    account = await gw.open_account()
    bodies = [
        {"out_request_no": "same-funding", "amount": f"{i + 1}.00", "currency": "CNY"} for i in range(N)
    ]
    answers = await asyncio.gather(*(gw.post(f"/ops/accounts/{account}/fund", b) for b in bodies))
    assert sorted(no_server_error(answers)) == [201] + [409] * (N - 1), answers
    assert {a["error"]["code"] for s, a in answers if s == 409} == {"IDEMPOTENCY_CONFLICT"}
    [made] = [a for s, a in answers if s == 201]
    assert await gw.balance(account) == made["amount"]


async def test_concurrent_account_openings_each_open_one_account(gw: SignedClient) -> None:
    body = {"owner": "same owner", "kind": "C", "currency": "CNY"}
    answers = await asyncio.gather(*(gw.post("/v1/accounts", body) for _ in range(N)))
    assert no_server_error(answers) == [201] * N, "opening has no idempotency key: each call opens one"
    assert len({a["id"] for _, a in answers}) == N


# -- nonces ----------------------------------------------------------------------------------
async def test_a_nonce_used_concurrently_is_accepted_once(gw: SignedClient) -> None:
    account = await gw.open_account()
    nonce = secrets.token_hex(12)
    answers = await asyncio.gather(*(gw.get(f"/v1/accounts/{account}", nonce=nonce) for _ in range(N)))
    assert sorted(no_server_error(answers)) == [200] + [401] * (N - 1), answers
    assert {a["error"]["field"] for s, a in answers if s == 401} == {"X-Nonce"}


# -- bills -----------------------------------------------------------------------------------
def loan_body(applicant: str, bill_code: str, amount: str = "10.00") -> dict[str, Any]:
    return {
        "bill_code": bill_code,
        "pay_mode": "transfer",
        "applicant_account": applicant,
        "amount": amount,
        "currency": "CNY",
    }


async def test_the_same_bill_sent_concurrently_is_made_and_booked_once(gw: SignedClient) -> None:
    applicant = await gw.open_account(owner="张三")
    body = loan_body(applicant, "JK-same")
    answers = await asyncio.gather(*(gw.post("/v1/bills/loans", body) for _ in range(N)))
    assert sorted(no_server_error(answers)) == [200] * (N - 1) + [201], answers
    assert len({a["id"] for _, a in answers}) == 1
    assert await gw.balance(applicant) == "10.00"
    other = loan_body(applicant, "JK-same", "11.00")
    answers = await asyncio.gather(*(gw.post("/v1/bills/loans", other) for _ in range(N)))
    assert no_server_error(answers) == [409] * N
    assert await gw.balance(applicant) == "10.00"
    assert (await gw.ledger_ok())["ok"] is True


async def test_first_bills_of_an_app_open_its_company_accounts_once(gw: SignedClient) -> None:
    applicants = [await gw.open_account(owner=f"applicant {i}") for i in range(4)]
    answers = await asyncio.gather(
        *(gw.post("/v1/bills/loans", loan_body(applicants[i % 4], f"JK-{i}")) for i in range(N))
    )
    assert no_server_error(answers) == [201] * N, answers
    assert {a["status"] for _, a in answers} == {"completed"}
    paying = company_account_ids(APP_ID, "CNY").paying
    assert await gw.balance(paying) == f"-{10 * N}.00"
    report = await gw.ledger_ok()
    assert report["ok"] is True
    # four applicants, the external account, the company paying and write-off accounts
    assert report["currencies"]["CNY"]["accounts"] == 4 + 2


async def test_concurrent_reruns_of_a_failed_business_book_once(gw: SignedClient) -> None:
    applicant = await gw.open_account(owner="张三")
    status, loan = await gw.post("/v1/bills/loans", loan_body(applicant, "JK-loan", "40.00"))
    assert status == 201 and loan["status"] == "completed", loan
    spent_to = await gw.open_account(owner="shop")
    status, _ = await gw.pay(amount="40.00", payer_account=applicant, payee_account=spent_to)
    assert status == 201
    reimbursement = {
        "bill_code": "BX-1",
        "pay_mode": "transfer",
        "applicant_account": applicant,
        "reimbursement_amount": "40.00",
        "currency": "CNY",
        "write_offs": [{"loan_bill_id": loan["id"], "amount": "40.00"}],
        "write_off_total": "40.00",
    }
    status, bill = await gw.post("/v1/bills/reimbursements", reimbursement)
    assert status == 201 and bill["status"] == "business_failed", bill
    await gw.fund(applicant, "40.00")
    answers = await asyncio.gather(
        *(gw.post(f"/ops/bills/{bill['id']}/actions/rerun_business", {"reason": f"r{i}"}) for i in range(N))
    )
    statuses = no_server_error(answers)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}, answers
    done = [a for s, a in answers if s == 200 and a["status"] == "completed"]
    assert len(done) == 1, answers
    assert {a["error"]["code"] for s, a in answers if s == 409} <= {"ACTION_PRECONDITION_FAILED"}
    status, loan_now = await gw.get(f"/v1/bills/{loan['id']}")
    assert loan_now["loan"] == {"open_amount": "0.00", "state": "written_off"}
    assert await gw.balance(applicant) == "0.00"
    assert (await gw.ledger_ok())["ok"] is True


async def test_the_same_bank_bill_sent_concurrently_asks_the_bank_once(env: Gateway) -> None:
    gw = env.api
    card = {"card_no": CARD_OK, "name": "张三", "bank_name": "浦发银行上海分行"}
    applicant = await gw.open_account(owner="张三", bank_card=card)
    body = {**loan_body(applicant, "JK-bank"), "pay_mode": "bank"}
    answers = await asyncio.gather(*(gw.post("/v1/bills/loans", body) for _ in range(N)))
    assert sorted(no_server_error(answers)) == [200] * (N - 1) + [201], answers
    assert len({a["id"] for _, a in answers}) == 1
    assert {a["status"] for _, a in answers} == {"bank_submitted"} and not env.bank.payments
    sent = await asyncio.gather(*(env.send(f"worker-{i}") for i in range(N)))
    assert sum(sent) == 1, "workers racing for one attempt: one claims it, one 8801"
    assert len(env.bank.payments) == 1, "one 8801"
    await env.settle()
    status, bill = await gw.get(f"/v1/bills/{answers[0][1]['id']}")
    assert bill["status"] == "completed", bill
    assert await gw.balance(applicant) == "10.00"


async def test_one_bill_code_with_different_bodies_makes_one_bill(env: Gateway) -> None:
    gw = env.api
    card = {"card_no": CARD_OK, "name": "张三", "bank_name": "浦发银行上海分行"}
    applicant = await gw.open_account(owner="张三", bank_card=card)
    answers = await asyncio.gather(
        *(
            gw.post("/v1/bills/loans", {**loan_body(applicant, "JK-race", f"{i + 1}.00"), "pay_mode": "bank"})
            for i in range(N)
        )
    )
    statuses = no_server_error(answers)
    assert sorted(statuses) == [201] + [409] * (N - 1), answers
    assert {a["error"]["code"] for s, a in answers if s == 409} <= {"BILL_IN_PROCESS", "IDEMPOTENCY_CONFLICT"}
    [made] = [a for s, a in answers if s == 201]
    assert {a["error"]["bill_id"] for s, a in answers if s == 409} == {made["id"]}
    await env.send()
    assert len(env.bank.payments) == 1


async def test_concurrent_error_actions_on_a_refused_bank_bill_book_once(env: Gateway) -> None:
    gw = env.api
    card = {"card_no": CARD_REFUSED, "name": "张三", "bank_name": "浦发银行上海分行"}
    applicant = await gw.open_account(owner="张三", bank_card=card)
    status, bill = await gw.post(
        "/v1/bills/loans", {**loan_body(applicant, "JK-refused"), "pay_mode": "bank"}
    )
    assert status == 201, bill
    await env.settle()
    status, failed = await gw.get(f"/v1/bills/{bill['id']}")
    assert failed["status"] == "bank_failed", failed
    actions = ["switch_to_transfer", "rerun_business"]
    answers = await asyncio.gather(
        *(gw.post(f"/ops/bills/{bill['id']}/actions/{actions[i % 2]}", {"reason": "race"}) for i in range(N))
    )
    statuses = no_server_error(answers)
    assert statuses.count(200) == 1 and statuses.count(409) == N - 1, answers
    status, done = await gw.get(f"/v1/bills/{bill['id']}")
    assert (done["status"], done["pay_mode"]) == ("completed", "transfer")
    assert await gw.balance(applicant) == "10.00"
    assert len(env.bank.payments) == 1
    assert (await gw.ledger_ok())["ok"] is True


# -- payouts ---------------------------------------------------------------------------------
def payout_item(serial_no: str) -> dict[str, Any]:
    return {
        "serial_no": serial_no,
        "order_serial_no": "ORD-1",
        "payee_account": "zhangsan@example.com",
        "amount": "12.30",
        "ext": {"type": 2, "pay_method": 1, "reason": "flight cancelled", "payee_name": "张三"},
    }


async def applied_payout(api: SignedClient) -> str:
    raw = payout_item(f"S-{uuid.uuid4().hex[:12]}")
    status, body = await api.post("/v1/payouts", {"trace_id": "trace-1", "items": [raw]})
    assert status == 200 and body["items"][0]["status"] == "accepted", body
    return str(body["items"][0]["payout"]["id"])


async def test_the_same_payout_item_applied_concurrently_makes_one_payout(gw: SignedClient) -> None:
    raw = payout_item("RACE-APPLY")
    answers = await asyncio.gather(
        *(gw.post("/v1/payouts", {"trace_id": "trace-1", "items": [raw]}) for _ in range(N))
    )
    assert no_server_error(answers) == [200] * N, answers
    results = [a["items"][0] for _, a in answers]
    assert {r["status"] for r in results} == {"accepted"}
    assert sorted(r["created"] for r in results) == [False] * (N - 1) + [True]
    assert len({r["payout"]["id"] for r in results}) == 1


async def test_concurrent_approvals_of_one_payout_pay_it_once(env: Gateway) -> None:
    gw = env.api
    payout = await applied_payout(gw)
    reviewers = [await gw.as_new_operator(env.container, f"finance-{i}", Role.FINANCE) for i in range(N)]
    # each approval runs the payout worker's round right after it, as a served gateway wakes it
    answers = await asyncio.gather(*(r.approve_payout(payout) for r in reviewers))
    assert set(no_server_error(answers)) <= {200, 409}, answers
    assert len({a["payment_id"] for s, a in answers if s == 200 and a["payment_id"]}) == 1
    assert len({a["review"]["reviewer"] for s, a in answers if s == 200}) == 1, "one reviewer's decision"
    assert len(env.payouts_sent()) == 1
    status, final = await gw.get(f"/ops/payouts/{payout}")
    assert final["status"] == "succeeded", final


async def test_approvals_racing_rejections_leave_one_decision(env: Gateway) -> None:
    gw = env.api
    payout = await applied_payout(gw)
    answers = await asyncio.gather(
        *(
            gw.post(
                f"/ops/payouts/{payout}/{'approve' if i % 2 else 'reject'}",
                {"reviewer": f"finance-{i}", "reason": "no"} if i % 2 == 0 else {"reviewer": f"finance-{i}"},
            )
            for i in range(N)
        )
    )
    statuses = no_server_error(answers)
    assert set(statuses) <= {200, 409}, answers
    status, final = await gw.get(f"/ops/payouts/{payout}")
    winners = {a["status"] == "rejected" for s, a in answers if s == 200}
    assert len(winners) == 1, answers
    if final["status"] == "rejected":
        assert env.payouts_sent() == []
    else:
        assert final["status"] == "succeeded", final
        assert len(env.payouts_sent()) == 1
    assert {a["error"]["code"] for s, a in answers if s == 409} <= {"ILLEGAL_TRANSITION"}
