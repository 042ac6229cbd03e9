"""Payouts through the HTTP API, with the Alipay payout simulator on 127.0.0.1: batch
application, finance review, paying once, unknown outcomes resolved by query, verified
notifications, results delivered to the caller's webhook, the report, app isolation and
concurrency."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from paygate_testkit import (
    APP_ID,
    APP_SECRET,
    OTHER_APP,
    OTHER_SECRET,
    SignedClient,
    Webhooks,
    make_settings,
)

from core.operators.model import Role
from plugins.alipay_openapi.notify import sign_notification
from plugins.alipay_openapi.sandbox import SANDBOX_GATEWAY
from plugins.alipay_openapi.signing import generate_private_key
from plugins.alipay_payout.client import QUERY_METHOD, TRANSFER_METHOD
from plugins.alipay_payout.sandbox import (
    ALIPAY_PUBLIC_KEY_FILE,
    APP_PRIVATE_KEY_FILE,
    SANDBOX_APP_ID,
    PayoutSimulator,
    create_payout_sandbox_app,
    load_sandbox_keys,
)
from plugins.alipay_payout.simulator import RETURNED_REASON
from ports.notify import SmsMessage

KEYS = Path(__file__).parents[2] / "cassettes" / "alipay_payout" / "keys"
BANK = {"main_bank": "中国工商银行", "province": "江苏省", "city": "苏州市", "branch": "苏州分行"}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@dataclass
class Env:
    api: SignedClient
    other: SignedClient
    simulator: PayoutSimulator
    hooks: Webhooks
    container: Any
    simulator_app: web.Application

    def sent(self, method: str = TRANSFER_METHOD) -> list[dict[str, Any]]:
        """What reached the Alipay simulator, per OpenAPI method."""
        gateway = self.simulator_app[SANDBOX_GATEWAY]
        return [biz for name, biz in gateway.calls if name == method]

    async def deliver_webhooks(self) -> None:
        from gateway.workers.outbox import OutboxDeliverer

        c = self.container
        async with aiohttp.ClientSession() as session:
            deliverer = OutboxDeliverer(c.uow, c.settings(), c.metrics(), lambda: session)
            while await deliverer.run_once():
                pass

    async def poll(self) -> int:
        from gateway.workers.query_poller import QueryPoller

        return await QueryPoller(self.container.engine(), self.container.payments(), batch=50).run_once()


@pytest.fixture
async def env(aiohttp_client: Any, aiohttp_server: Any, database_url: str) -> AsyncIterator[Env]:
    from gateway.app import create_app
    from gateway.container import Container

    hooks = Webhooks()
    hook_app = web.Application()
    hook_app.router.add_post("/hooks", hooks.handle)
    hook_server = await aiohttp_server(hook_app, host="127.0.0.1")
    simulator = PayoutSimulator(load_sandbox_keys(KEYS))
    simulator_app = create_payout_sandbox_app(simulator)
    alipay = TestServer(simulator_app, host="127.0.0.1")
    await alipay.start_server()
    hook_url = str(hook_server.make_url("/hooks"))
    settings = make_settings(
        database_url,
        apps={
            APP_ID: {"secret": APP_SECRET, "notify_url": hook_url},
            OTHER_APP: {"secret": OTHER_SECRET, "notify_url": hook_url},
        },
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {"name": "alipay payouts", "pay_method": "alipay", "channel": "alipay_payout"},
                {
                    "name": "bank payouts",
                    "pay_method": "bank",
                    "business_type": "payout",
                    "channel": "alipay_payout",
                },
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
            }
        },
        limits={"max_payment_amount": {"CNY": "50000"}},
        notify={"retry_schedule_seconds": [0, 0]},
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    client = await aiohttp_client(create_app(container))
    # order.changed messages go to this gateway's callback (the request names no notify_url)
    simulator.default_notify_url = str(client.make_url("/callbacks/alipay_payout"))
    api = SignedClient(client)
    yield Env(api, api.as_app(OTHER_APP, OTHER_SECRET), simulator, hooks, container, simulator_app)
    await alipay.close()


def item(serial_no: str | None = None, **changes: Any) -> dict[str, Any]:
    ext = {"type": 2, "pay_method": 1, "reason": "flight cancelled: compensation", "payee_name": "张三"}
    ext.update(changes.pop("ext", {}))
    return {
        "serial_no": serial_no or f"S-{uuid.uuid4().hex[:12]}",
        "order_serial_no": "ORD-1",
        "payee_account": "zhangsan@example.com",
        "amount": "12.30",
        "ext": ext,
        **changes,
    }


def bank_item(serial_no: str | None = None, **changes: Any) -> dict[str, Any]:
    ext = {"pay_method": 2, "type": 4, "business_type": "B", "bank": BANK, "payee_name": "某某供应商"}
    ext.update(changes.pop("ext", {}))
    return item(serial_no, **{"payee_account": "6222020000000001", "ext": ext, **changes})


async def apply(api: SignedClient, *items: dict[str, Any], **batch: Any) -> dict[str, Any]:
    status, body = await api.post("/v1/payouts", {"trace_id": "trace-1", "items": list(items), **batch})
    assert status == 200, body
    return dict(body)


async def applied(api: SignedClient, raw: dict[str, Any]) -> dict[str, Any]:
    [result] = (await apply(api, raw))["items"]
    assert result["status"] == "accepted", result
    return dict(result["payout"])


async def approve(api: SignedClient, payout_id: str, reviewer: str = "finance-li") -> tuple[int, Any]:
    """The approval, then the payout worker's round that pays it (off the approving request)."""
    return await api.approve_payout(payout_id, {"reviewer": reviewer})


async def approved(api: SignedClient, raw: dict[str, Any]) -> dict[str, Any]:
    payout = await applied(api, raw)
    status, body = await approve(api, payout["id"])
    assert status == 200, body
    return dict(body)


async def current(api: SignedClient, payout_id: str) -> dict[str, Any]:
    status, body = await api.get(f"/ops/payouts/{payout_id}")
    assert status == 200, body
    return dict(body)


# -- applying --------------------------------------------------------------------------------
async def test_each_item_of_a_batch_is_accepted_or_rejected_on_its_own(env: Env) -> None:
    items = [
        item("GOOD-ALIPAY"),
        bank_item("GOOD-BANK"),
        bank_item("NO-BRANCH", ext={"bank": {**BANK, "branch": ""}}),
        item("TEST-NO-VOUCHER", ext={"type": 8}),
        item("TEST-VOUCHER", ext={"type": 8, "voucher": {"ref": "oss://vouchers/T-1.pdf"}}),
        item("CREDIT-CARD", ext={"pay_method": 3}),
        item("THREE-DECIMALS", amount="1.234"),
        item("NEGATIVE", amount="-5.00"),
        item("NO-NAME", ext={"payee_name": None}),
        item("USER-ID", payee_account="2088102146225135", ext={"payee_name": None}),
        item("OVER-LIMIT", amount="50000.01"),
        item("TYPO", colour="red"),
    ]
    body = await apply(env.api, *items)
    answers = {r["serial_no"]: r for r in body["items"]}
    assert [r["index"] for r in body["items"]] == list(range(len(items)))
    assert (body["accepted"], body["rejected"]) == (4, 8)
    rejected = {s: (r["code"], r["field"]) for s, r in answers.items() if r["status"] == "rejected"}
    assert rejected == {
        "NO-BRANCH": ("BANK_INFO_REQUIRED", "items[2].ext.bank.branch"),
        "TEST-NO-VOUCHER": ("VOUCHER_REQUIRED", "items[3].ext.voucher"),
        "CREDIT-CARD": ("UNSUPPORTED_PAY_METHOD", "items[5].ext.pay_method"),
        "THREE-DECIMALS": ("INVALID_AMOUNT", "items[6].amount"),
        "NEGATIVE": ("INVALID_AMOUNT", "items[7].amount"),
        "NO-NAME": ("PAYEE_NAME_REQUIRED", "items[8].ext.payee_name"),
        "OVER-LIMIT": ("AMOUNT_LIMIT_EXCEEDED", "items[10].amount"),
        "TYPO": ("INVALID_ARGUMENT", "items[11].colour"),
    }
    assert all(r["message"] for s, r in answers.items() if s in rejected)
    good = answers["GOOD-BANK"]["payout"]
    assert (good["status"], good["pay_method"], good["bank"]["branch"]) == (
        "pending_review",
        "bank",
        "苏州分行",
    )
    assert good["payee_account"] == "6222********0001" and good["trace_id"] == "trace-1"
    assert answers["TEST-VOUCHER"]["payout"]["voucher"] == {"ref": "oss://vouchers/T-1.pdf", "sha256": None}
    assert env.sent() == [], "nothing is paid before finance review"


async def test_numbers_beyond_what_is_stored_are_refused_per_item(env: Env) -> None:
    """payType is kept as a small integer: beyond it (or below zero) the item is refused naming
    it, the others accepted; a code out of every range is refused as unknown, never a 500."""
    body = await apply(
        env.api,
        item("PAY-TYPE-OK", ext={"pay_type": 32767}),
        item("PAY-TYPE-BIG", ext={"pay_type": 32768}),
        item("PAY-TYPE-NEG", ext={"payType": -1}),
        item("TYPE-HUGE", ext={"type": 2**70}),
        item("BACK-HUGE", ext={"pay_back_type": -(2**40)}),
    )
    answers = {r["serial_no"]: (r["status"], r.get("field")) for r in body["items"]}
    assert answers == {
        "PAY-TYPE-OK": ("accepted", None),
        "PAY-TYPE-BIG": ("rejected", "items[1].ext.pay_type"),
        "PAY-TYPE-NEG": ("rejected", "items[2].ext.pay_type"),  # named as the document names it
        "TYPE-HUGE": ("rejected", "items[3].ext.type"),
        "BACK-HUGE": ("rejected", "items[4].ext.pay_back_type"),
    }, body
    ok = next(r for r in body["items"] if r["serial_no"] == "PAY-TYPE-OK")
    assert (await current(env.api, ok["payout"]["id"]))["pay_type"] == 32767


async def test_a_repeat_returns_the_payout_and_a_changed_item_conflicts(env: Env) -> None:
    first = await applied(env.api, item("REPEAT-1"))
    [again] = (await apply(env.api, item("REPEAT-1")))["items"]
    assert (again["status"], again["created"], again["payout"]["id"]) == ("accepted", False, first["id"])
    [changed] = (await apply(env.api, item("REPEAT-1", amount="99.00")))["items"]
    assert (changed["status"], changed["code"]) == ("rejected", "IDEMPOTENCY_CONFLICT")
    status, found = await env.api.get("/v1/payouts?serial_no=REPEAT-1")
    assert status == 200 and (found["id"], found["amount"]) == (first["id"], "12.30")


async def test_seed_style_ext_data_string_and_project_auth_id(env: Env) -> None:
    raw = item("SEED-STYLE")
    raw["ext"] = json.dumps(raw["ext"], ensure_ascii=False)
    body = await apply(env.api, raw, project_auth_id=APP_ID, source_platform="compensation")
    assert body["items"][0]["payout"]["source_platform"] == "compensation"
    status, error = await env.api.post("/v1/payouts", {"project_auth_id": OTHER_APP, "items": [item()]})
    assert (status, error["error"]["field"]) == (400, "project_auth_id")


def seed_item(serial_no: str, **ext_changes: Any) -> dict[str, Any]:
    """An item as a caller of the old platform sends it: OutwardPayDataDTO with ExtData's names."""
    ext = {
        "type": 2,
        "payMethod": 1,
        "paidRemark": "flight cancelled: compensation",
        "receivedName": "张三",
        "businessType": 1,
        "payType": 3,
        "sms": True,
        "smsPhone": "13812345678",
        **ext_changes,
    }
    return {
        "projectOutwardPaySerialNo": serial_no,
        "orderSerialNo": "ORD-9",
        "account": "zhangsan@example.com",
        "amount": "8.80",
        "extData": json.dumps(ext, ensure_ascii=False),
    }


async def test_a_seed_named_batch_is_applied_as_the_old_platform_sends_it(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = await env.api.post(
        "/v1/payouts",
        {"traceId": "trace-seed", "projectAuthId": APP_ID, "outwardPayDatas": [seed_item("SEED-NAMES")]},
    )
    assert status == 200 and body["trace_id"] == "trace-seed", body
    [result] = body["items"]
    assert (result["status"], result["serial_no"]) == ("accepted", "SEED-NAMES"), result
    payout = result["payout"]
    assert (payout["order_serial_no"], payout["amount"], payout["business_type"]) == ("ORD-9", "8.80", "B")
    assert (payout["pay_back_type"], payout["pay_type"], payout["send_sms"]) == (2, 3, True)
    assert payout["reason"] == "flight cancelled: compensation" and payout["payee_name"] == "张三"

    caplog.set_level("INFO", logger="paygate.sms")
    status, paid = await approve(env.api, payout["id"])
    assert status == 200 and paid["status"] == "succeeded", paid
    [texted] = [r for r in caplog.records if r.name == "paygate.sms"]
    assert (texted.phone, texted.reference) == ("1381***5678", payout["id"])  # type: ignore[attr-defined]
    assert "13812345678" not in caplog.text


async def test_both_spellings_of_one_field_are_refused(env: Env) -> None:
    status, body = await env.api.post("/v1/payouts", {"trace_id": "t-1", "traceId": "t-2", "items": [item()]})
    assert (status, body["error"]["code"]) == (400, "INVALID_ARGUMENT")
    assert "`trace_id` and `traceId`" in body["error"]["message"]
    raw = {**item("BOTH-SERIALS"), "projectOutwardPaySerialNo": "OTHER"}
    [rejected] = (await apply(env.api, raw))["items"]
    assert (rejected["status"], rejected["code"]) == ("rejected", "INVALID_ARGUMENT")
    assert "`serial_no` and `projectOutwardPaySerialNo`" in rejected["message"]


async def test_a_malformed_batch_is_refused_whole(env: Env) -> None:
    status, body = await env.api.post("/v1/payouts", {"items": []})
    assert (status, body["error"]["code"]) == (400, "INVALID_ARGUMENT")
    status, body = await env.api.post("/v1/payouts", raw=b"{not json")
    assert (status, body["error"]["code"]) == (400, "INVALID_JSON")
    status, body = await env.api.post("/v1/payouts", {"items": [item() for _ in range(101)]})
    assert status == 400


async def test_an_app_sees_only_its_own_payouts(env: Env) -> None:
    mine = await applied(env.api, item("SHARED-SERIAL"))
    status, body = await env.other.get(f"/v1/payouts/{mine['id']}")
    assert (status, body["error"]["code"]) == (404, "PAYOUT_NOT_FOUND")
    status, _ = await env.other.get("/v1/payouts?serial_no=SHARED-SERIAL")
    assert status == 404
    theirs = await applied(env.other, item("SHARED-SERIAL", amount="1.00"))
    assert theirs["id"] != mine["id"], "serial numbers belong to each app"
    status, body = await env.api.get(f"/v1/payouts/{mine['id']}")
    assert status == 200 and body["amount"] == "12.30"


# -- review and paying -----------------------------------------------------------------------
async def test_approved_payout_is_paid_and_its_result_reaches_the_caller(env: Env) -> None:
    payout = await applied(env.api, item("PAY-ME"))
    status, paid = await approve(env.api, payout["id"])
    assert status == 200 and paid["status"] == "succeeded"
    # the reviewer is the authenticated operator, whatever the body's free-text reviewer says
    assert (paid["review"]["decision"], paid["review"]["reviewer"]) == ("approved", "demo-finance")
    assert paid["review"]["operator"] == "demo-finance"
    assert paid["channel"] == "alipay_payout" and paid["channel_ref"]
    [sent] = env.sent()
    assert sent["out_biz_no"] == paid["payment_id"] and sent["trans_amount"] == "12.30"
    assert sent["payee_info"] == {
        "identity": "zhangsan@example.com",
        "identity_type": "ALIPAY_LOGON_ID",
        "name": "张三",
    }
    await env.deliver_webhooks()
    [event] = env.hooks.events  # the payout's result only: its payment sends no webhook
    assert (event["event_type"], event["serial_no"], event["succeeded"]) == (
        "payout.succeeded",
        "PAY-ME",
        True,
    )
    assert event["payout"]["id"] == payout["id"] and event["app"] == APP_ID
    status, flow = await env.api.get(f"/v1/payouts/{payout['id']}/flow")
    nodes = [r["node"] for r in flow["flow"]]
    assert nodes[:3] == ["accepted", "validated", "review"] and nodes[-1] == "final_state"
    assert "channel_request" in nodes
    review = next(r for r in flow["flow"] if r["node"] == "review")
    assert review["actor"] == "demo-finance"


async def test_bank_payout_goes_to_alipay_bank_card_transfer(env: Env) -> None:
    paid = await approved(env.api, bank_item("BANK-1"))
    assert paid["status"] == "succeeded"
    [sent] = env.sent()
    assert sent["product_code"] == "TRANS_BANKCARD_NO_PWD"
    assert sent["payee_info"]["bankcard_ext_info"] == {
        "account_type": "1",
        "inst_name": "中国工商银行",
        "inst_province": "江苏省",
        "inst_city": "苏州市",
        "inst_branch_name": "苏州分行",
    }


async def test_a_payouts_payment_shows_its_payee_masked_wherever_it_is_listed(env: Env) -> None:
    """The payee of a payout's payment (a logon id, a card number) is masked in every answer that
    shows the payment, as the payout itself shows it; a transfer's ledger accounts are shown as
    they are."""
    by_mail = await approved(env.api, item("MAIL-1"))
    by_card = await approved(env.api, bank_item("CARD-1"))
    for payout, masked in ((by_mail, "z*******@example.com"), (by_card, "6222********0001")):
        assert payout["payee_account"] == masked
        status, payment = await env.api.get(f"/v1/payments/{payout['payment_id']}")
        assert (status, payment["payee_account"]) == (200, masked), payment
        status, found = await env.api.get(f"/v1/payments?out_request_no={payment['out_request_no']}")
        assert (status, found["payee_account"]) == (200, masked), found
        for listing in ("/v1/payments?channel=alipay_payout", f"/ops/payments?app_id={APP_ID}"):
            status, listed = await env.api.get(listing)
            shown = {p["id"]: p["payee_account"] for p in listed["data"]}
            assert status == 200 and shown[payout["payment_id"]] == masked, (listing, listed)
    payer, payee = await env.api.open_account(), await env.api.open_account()
    await env.api.fund(payer, "20.00")
    status, moved = await env.api.pay(amount="5.00", payer_account=payer, payee_account=payee)
    assert (status, moved["payer_account"], moved["payee_account"]) == (201, payer, payee), moved


async def test_rejected_payout_is_never_paid_and_cannot_be_approved(env: Env) -> None:
    payout = await applied(env.api, item("REJECT-ME"))
    body = {"reviewer": "finance-wang", "reason": "duplicate compensation"}
    status, rejected = await env.api.post(f"/ops/payouts/{payout['id']}/reject", body)
    assert status == 200 and rejected["status"] == "rejected"
    assert (rejected["review"]["note"], rejected["failure_message"]) == ("duplicate compensation",) * 2
    assert datetime.fromisoformat(rejected["review"]["at"]).tzinfo is not None
    status, again = await env.api.post(f"/ops/payouts/{payout['id']}/reject", body)
    assert status == 200 and again["review"]["at"] == rejected["review"]["at"]
    status, error = await approve(env.api, payout["id"])
    assert (status, error["error"]["code"]) == (409, "ILLEGAL_TRANSITION")
    assert env.sent() == []
    await env.deliver_webhooks()
    [event] = env.hooks.events
    assert (event["event_type"], event["serial_no"], event["message"]) == (
        "payout.rejected",
        "REJECT-ME",
        "duplicate compensation",
    )


async def test_an_approved_payout_can_no_longer_be_rejected(env: Env) -> None:
    paid = await approved(env.api, item())
    status, error = await env.api.post(
        f"/ops/payouts/{paid['id']}/reject", {"reviewer": "x", "reason": "too late"}
    )
    assert (status, error["error"]["code"]) == (409, "ILLEGAL_TRANSITION")
    status, error = await env.api.post(f"/ops/payouts/{paid['id']}/reject", {"reviewer": "x"})
    assert (status, error["error"]["field"]) == (400, "reason")


async def test_approving_twice_is_harmless_and_pays_once(env: Env) -> None:
    paid = await approved(env.api, item())
    someone_else = await env.api.as_new_operator(env.container, "finance-wang", Role.FINANCE)
    status, again = await approve(someone_else, paid["id"])
    assert status == 200 and again["payment_id"] == paid["payment_id"]
    assert again["review"]["reviewer"] == "demo-finance"
    assert len(env.sent()) == 1


async def test_the_recorded_reviewer_is_the_operator_who_decided(env: Env) -> None:
    zhao = await env.api.as_new_operator(env.container, "finance-zhao", Role.FINANCE)
    payout = await applied(env.api, item())
    status, paid = await approve(zhao, payout["id"], reviewer="somebody-else")
    assert status == 200, paid
    assert (paid["review"]["reviewer"], paid["review"]["operator"]) == ("finance-zhao", "finance-zhao")
    refused = await applied(env.api, item())
    status, rejected = await zhao.post(f"/ops/payouts/{refused['id']}/reject", {"reason": "duplicate"})
    assert status == 200 and rejected["review"]["reviewer"] == "finance-zhao"


async def test_unknown_payout_is_404_for_operators(env: Env) -> None:
    status, body = await approve(env.api, "pyt_missing")
    assert (status, body["error"]["code"]) == (404, "PAYOUT_NOT_FOUND")


async def test_the_review_queue_lists_payouts_waiting_for_finance(env: Env) -> None:
    waiting = await applied(env.api, item())
    await approved(env.api, item())
    status, body = await env.api.get("/ops/payouts?status=pending_review")
    assert status == 200 and [p["id"] for p in body["data"]] == [waiting["id"]]
    status, body = await env.api.get("/ops/payouts?status=nonsense")
    assert status == 400


# -- outcomes --------------------------------------------------------------------------------
async def test_system_error_leaves_it_paying_until_a_query_finds_it_paid(env: Env) -> None:
    paying = await approved(env.api, item(payee_account="system_error@example.com"))
    assert paying["status"] == "paying" and paying["failure_code"] is None
    assert await env.poll() == 1
    paid = await current(env.api, paying["id"])
    assert paid["status"] == "succeeded"
    assert len(env.sent()) == 1, "resolved by query, never resent"
    assert env.sent(QUERY_METHOD)[0]["out_biz_no"] == paid["payment_id"]
    await env.deliver_webhooks()
    assert [e["serial_no"] for e in env.hooks.of("payout.succeeded")] == [paid["serial_no"]]


async def test_an_answer_that_fails_verification_is_never_a_failure(env: Env) -> None:
    paying = await approved(env.api, item(payee_account="bad_sign@example.com"))
    assert paying["status"] == "paying"
    await env.poll()
    assert (await current(env.api, paying["id"]))["status"] == "succeeded"


async def test_bank_card_transfer_that_fails_after_dealing_fails_the_payout(env: Env) -> None:
    paying = await approved(env.api, bank_item(payee_account="dealing_fail_6222020000000001"))
    assert paying["status"] == "paying"
    for _ in range(3):  # the simulator deals for two queries, then fails
        await env.poll()
    failed = await current(env.api, paying["id"])
    assert (failed["status"], failed["failure_code"]) == ("failed", "PAYEE_CARD_INFO_ERROR")
    await env.deliver_webhooks()
    [event] = env.hooks.of("payout.failed")
    assert (event["serial_no"], event["succeeded"]) == (failed["serial_no"], False)


async def test_a_permanent_refusal_fails_the_payout_with_alipay_code(env: Env) -> None:
    failed = await approved(env.api, item(payee_account="payee_not_exist@example.com"))
    assert (failed["status"], failed["failure_code"]) == ("failed", "PAYEE_NOT_EXIST")


# -- notifications ---------------------------------------------------------------------------
async def callback(env: Env, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = await env.api.client.post("/callbacks/alipay_payout", data=body, headers=headers or FORM)
    return response.status, await response.text()


async def finish_at_alipay(env: Env, payment_id: str) -> None:
    """Let the simulator's transfer become final, as time passes at Alipay."""
    query = {
        "out_biz_no": payment_id,
        "product_code": "TRANS_BANKCARD_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
    }
    for _ in range(env.simulator.dealing_queries + 1):
        await env.simulator.common_query(query, {})


async def test_alipay_notification_settles_a_payout_and_duplicates_are_harmless(env: Env) -> None:
    paying = await approved(env.api, bank_item(payee_account="dealing_6222020000000001"))
    assert paying["status"] == "paying"
    await finish_at_alipay(env, paying["payment_id"])
    transfer = env.simulator.transfers[paying["payment_id"]]
    async with aiohttp.ClientSession() as session:
        [delivery] = await env.simulator.deliver_notifications(session)
    assert delivery.acknowledged, delivery
    assert (await current(env.api, paying["id"]))["status"] == "succeeded"
    duplicate = urlencode(
        sign_notification(env.simulator.order_changed_fields(transfer), env.simulator.keys.alipay_private_key)
    ).encode()
    assert await callback(env, duplicate) == (200, "success")
    await env.deliver_webhooks()
    assert len(env.hooks.of("payout.succeeded")) == 1


async def test_forged_or_unsigned_notifications_are_rejected_and_change_nothing(env: Env) -> None:
    paying = await approved(env.api, bank_item(payee_account="dealing_6222020000000001"))
    await finish_at_alipay(env, paying["payment_id"])
    transfer = env.simulator.transfers[paying["payment_id"]]
    fields = env.simulator.order_changed_fields(transfer)
    forged = urlencode(sign_notification(fields, generate_private_key())).encode()
    unsigned = urlencode(fields).encode()
    genuine = urlencode(sign_notification(fields, env.simulator.keys.alipay_private_key)).encode()
    tampered = genuine.replace(b"SUCCESS", b"FAIL")
    for body in (forged, unsigned, tampered):
        status, text = await callback(env, body)
        assert status == 400 and text != "success"
    status, _ = await callback(env, genuine, {"Content-Type": "application/json"})
    assert status == 400
    assert (await current(env.api, paying["id"]))["status"] == "paying"
    await env.deliver_webhooks()
    assert env.hooks.events == []


async def test_a_bank_card_returned_after_success_returns_the_payout_once(env: Env) -> None:
    paid = await approved(env.api, bank_item("RETURN-ME", payee_account="returned_6222020000000001"))
    assert paid["status"] == "succeeded"
    async with aiohttp.ClientSession() as session:
        [told] = await env.simulator.deliver_notifications(session)  # SUCCESS: then the card bounces
        [bounced] = await env.simulator.deliver_notifications(session)  # REFUND
    assert told.acknowledged and bounced.acknowledged, (told, bounced)
    transfer = env.simulator.transfers[paid["payment_id"]]
    repeated = urlencode(
        sign_notification(env.simulator.order_changed_fields(transfer), env.simulator.keys.alipay_private_key)
    ).encode()
    assert await callback(env, repeated) == (200, "success")  # a repeat changes nothing
    assert await env.poll() == 0  # nothing left to query: the payment stays succeeded

    returned = await current(env.api, paid["id"])
    assert (returned["status"], returned["failure_code"], returned["payment_id"]) == (
        "returned",
        "REFUND",
        paid["payment_id"],
    )
    await env.deliver_webhooks()
    assert [e["event_type"] for e in env.hooks.events] == ["payout.succeeded", "payout.returned"]
    [event] = env.hooks.of("payout.returned")
    assert (event["serial_no"], event["status"], event["succeeded"]) == ("RETURN-ME", "returned", False)
    assert event["message"] == RETURNED_REASON
    _, flow = await env.api.get(f"/v1/payouts/{paid['id']}/flow")
    assert [r["node"] for r in flow["flow"]].count("returned") == 1


# -- concurrency -----------------------------------------------------------------------------
async def test_concurrent_approvals_pay_once(env: Env) -> None:
    payout = await applied(env.api, item("RACE-APPROVE"))
    answers = await asyncio.gather(*(approve(env.api, payout["id"], f"finance-{i}") for i in range(5)))
    assert {status for status, _ in answers} == {200}
    assert len({body["payment_id"] for _, body in answers if body["payment_id"]}) == 1
    assert len(env.sent()) == 1
    final = await current(env.api, payout["id"])
    assert final["status"] == "succeeded"
    await env.deliver_webhooks()
    assert len(env.hooks.of("payout.succeeded")) == 1


async def test_concurrent_duplicate_applications_make_one_payout(env: Env) -> None:
    raw = item("RACE-APPLY")
    answers = await asyncio.gather(*(apply(env.api, raw) for _ in range(5)))
    results = [a["items"][0] for a in answers]
    assert {r["status"] for r in results} == {"accepted"}
    assert sorted(r["created"] for r in results) == [False] * 4 + [True]
    assert len({r["payout"]["id"] for r in results}) == 1
    status, queue = await env.api.get("/ops/payouts?status=pending_review")
    assert [p["serial_no"] for p in queue["data"]] == ["RACE-APPLY"]


# -- the report ------------------------------------------------------------------------------
async def test_report_groups_counts_and_amounts_and_totals_match_the_payouts(env: Env) -> None:
    made = [
        await approved(env.api, item(amount="10.00")),
        await approved(env.api, item(amount="20.50", ext={"type": 6})),
        await approved(env.api, bank_item(amount="100.00")),
        await approved(env.api, item(amount="5.00", payee_account="payee_not_exist@example.com")),
        await applied(env.api, item(amount="1.25")),
    ]
    [other] = (await apply(env.other, item(amount="7.00"), source_platform="insurance"))["items"]
    made.append(other["payout"])
    today = datetime.now(UTC).date()
    status, report = await env.api.get(
        f"/ops/reports/payouts?from={today - timedelta(days=1)}&to={today}"
        "&group_by=platform,type,pay_method,status,day"
    )
    assert status == 200, report
    assert report["totals"] == [
        {"currency": "CNY", "count": len(made), "amount": str(sum(Decimal(p["amount"]) for p in made))}
    ]
    groups = {
        (g["app_id"], g["source_platform"], g["type_name"], g["pay_method"], g["status"]): (
            g["count"],
            g["amount"],
        )
        for g in report["groups"]
    }
    assert groups == {
        (APP_ID, None, "complaint_borne_by_company", "alipay", "succeeded"): (1, "10.00"),
        (APP_ID, None, "flight_delay_advance", "alipay", "succeeded"): (1, "20.50"),
        (APP_ID, None, "supplier_payment", "bank", "succeeded"): (1, "100.00"),
        (APP_ID, None, "complaint_borne_by_company", "alipay", "failed"): (1, "5.00"),
        (APP_ID, None, "complaint_borne_by_company", "alipay", "pending_review"): (1, "1.25"),
        (OTHER_APP, "insurance", "complaint_borne_by_company", "alipay", "pending_review"): (1, "7.00"),
    }
    assert {g["day"] for g in report["groups"]} == {today.isoformat()}
    status, paid = await env.api.get("/ops/reports/payouts?group_by=status")
    assert {g["status"]: g["amount"] for g in paid["groups"]}["succeeded"] == "130.50"
    status, before = await env.api.get(f"/ops/reports/payouts?to={today - timedelta(days=1)}")
    assert before["groups"] == [] and before["totals"] == []


async def test_report_as_csv(env: Env) -> None:
    await approved(env.api, item(amount="10.00"))
    await approved(env.api, bank_item(amount="2.00"))
    response = await env.api.client.get(
        "/ops/reports/payouts?group_by=pay_method,status&format=csv",
        headers=env.api.ops_headers("GET", "/ops/reports/payouts"),
    )
    assert response.status == 200 and response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["pay_method"], r["status"], r["count"], r["amount"]) for r in rows] == [
        ("alipay", "succeeded", "1", "10.00"),
        ("bank", "succeeded", "1", "2.00"),
    ]


async def test_report_refuses_unknown_groups_and_bad_dates(env: Env) -> None:
    status, body = await env.api.get("/ops/reports/payouts?group_by=colour")
    assert (status, body["error"]["field"]) == (400, "group_by")
    status, body = await env.api.get("/ops/reports/payouts?from=2024-13-01")
    assert (status, body["error"]["field"]) == (400, "from")
    status, body = await env.api.get("/ops/reports/payouts?format=xml")
    assert status == 400


async def test_a_paid_payout_that_asked_for_an_sms_texts_its_payee_once_it_is_paid(env: Env) -> None:
    """The SMS goes out once the paid payout is committed (the API shows it succeeded while the
    sender runs), and once: a duplicate notification and a poll text nobody again."""
    seen: list[tuple[str, str, str]] = []  # phone, payout, the payout's status as the API showed it

    class WitnessSender:
        async def send(self, message: SmsMessage) -> None:
            status = (await current(env.api, message.reference))["status"]
            seen.append((message.phone, message.reference, status))

    env.container.payout_listener().texts.sender = WitnessSender()
    ext = {"send_sms": True, "sms_phone": "13812345678"}
    paying = await approved(env.api, bank_item(payee_account="dealing_6222020000000001", ext=ext))
    assert paying["status"] == "paying" and seen == []
    await finish_at_alipay(env, paying["payment_id"])
    async with aiohttp.ClientSession() as session:
        [delivery] = await env.simulator.deliver_notifications(session)
    assert delivery.acknowledged, delivery
    transfer = env.simulator.transfers[paying["payment_id"]]
    duplicate = urlencode(
        sign_notification(env.simulator.order_changed_fields(transfer), env.simulator.keys.alipay_private_key)
    ).encode()
    assert await callback(env, duplicate) == (200, "success")
    await env.poll()
    assert seen == [("13812345678", paying["id"], "succeeded")]
