"""Maker-checker on funding and on approving a large payout ([ops.maker_checker]), over HTTP:
the first operator's call is a proposal (202), a second finance operator's confirmation (202,
executing) has the approvals worker run it once; and the audit log records every /ops action,
filterable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from dependency_injector import providers
from paygate_testkit import SignedClient, make_settings
from test_operator_resolve import UnansweredPlugin, approval, work

from core.operators.model import Role
from gateway.keys import CONTAINER
from gateway.settings import MakerCheckerSettings


@pytest.fixture
async def api(aiohttp_client: Any, database_url: str) -> SignedClient:
    from gateway.app import create_app
    from gateway.container import Container
    from gateway.plugins import build_plugin_manager

    settings = make_settings(
        database_url,
        ops={"maker_checker": {"funding": True, "payout_approval_over": "100.00"}},
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {"name": "payouts", "pay_method": "alipay", "channel": "unanswered"},
            ]
        },
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    container.plugin_manager.override(providers.Object(build_plugin_manager([UnansweredPlugin()])))
    return SignedClient(await aiohttp_client(create_app(container)))


async def second_finance(api: SignedClient, login: str = "fin-2") -> SignedClient:
    return await api.as_new_operator(api.client.app[CONTAINER], login, Role.FINANCE)


async def test_funding_needs_a_second_operator(api: SignedClient) -> None:
    account = await api.open_account(owner="Li Si")
    body = {"out_request_no": f"fund-{uuid.uuid4().hex[:8]}", "amount": "50.00", "currency": "CNY"}
    status, proposal = await api.post(f"/ops/accounts/{account}/fund", body)
    assert status == 202 and proposal["action"] == "fund_account", proposal
    assert await api.balance(account) == "0.00"
    fin = await second_finance(api)
    status, claimed = await fin.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert status == 202 and claimed["status"] == "executing", claimed
    assert await work(api.client.app[CONTAINER]) == 1
    confirmed = await approval(api, proposal["id"])
    assert confirmed["status"] == "confirmed", confirmed
    assert confirmed["result"]["funding"]["amount"] == "50.00"
    assert await api.balance(account) == "50.00"
    status, again = await (await second_finance(api, "fin-3")).post(
        f"/ops/approvals/{proposal['id']}/confirm"
    )
    assert (status, again["error"]["code"]) == (409, "APPROVAL_DECIDED")
    assert await api.balance(account) == "50.00", "confirmed once, funded once"


async def payout(api: SignedClient, amount: str) -> str:
    item = {
        "serial_no": f"S-{uuid.uuid4().hex[:12]}",
        "order_serial_no": "ORD-1",
        "payee_account": "zhangsan@example.com",
        "amount": amount,
        "ext": {"type": 2, "pay_method": 1, "reason": "compensation", "payee_name": "张三"},
    }
    status, batch = await api.post("/v1/payouts", {"trace_id": "trace-1", "items": [item]})
    assert status == 200, batch
    return str(batch["items"][0]["payout"]["id"])


async def test_a_payout_over_the_amount_needs_a_second_finance_operator(api: SignedClient) -> None:
    small, large = await payout(api, "100.00"), await payout(api, "100.01")
    status, approved = await api.post(f"/ops/payouts/{small}/approve", {})
    assert status == 200 and approved["status"] != "pending_review", approved
    status, proposal = await api.post(f"/ops/payouts/{large}/approve", {"note": "large claim"})
    assert status == 202 and proposal["subject_id"] == large, proposal
    status, waiting = await api.get(f"/ops/payouts/{large}")
    assert waiting["status"] == "pending_review"
    status, claimed = await (await second_finance(api)).post(f"/ops/approvals/{proposal['id']}/confirm")
    assert status == 202, claimed
    assert await work(api.client.app[CONTAINER]) == 1
    confirmed = await approval(api, proposal["id"])
    assert confirmed["result"]["payout"]["status"] in ("approved", "paying"), confirmed
    status, audit = await api.get(f"/ops/audit?subject_id={large}")
    assert [(e["action"], e["outcome"]) for e in audit["data"]] == [("payouts/approve", "proposed")]


async def test_the_audit_log_pages_and_filters(api: SignedClient) -> None:
    ids = [await payout(api, "1.00") for _ in range(3)]
    for payout_id in ids:
        status, _ = await api.post(f"/ops/payouts/{payout_id}/reject", {"reason": "duplicate claim"})
        assert status == 200
    status, first = await api.get("/ops/audit?limit=2&action=payouts/reject&operator=demo-finance")
    assert status == 200 and first["has_more"] is True and len(first["data"]) == 2, first
    status, rest = await api.get(
        f"/ops/audit?limit=2&action=payouts/reject&starting_after={first['data'][-1]['id']}"
    )
    assert rest["has_more"] is False and len(rest["data"]) == 1
    seen = [e["subject_id"] for e in first["data"] + rest["data"]]
    assert seen == ids[::-1]
    assert {e["note"] for e in first["data"]} == {"reason: duplicate claim"}
    assert {e["role"] for e in first["data"]} == {"finance"}
    status, none = await api.get("/ops/audit?operator=nobody")
    assert none["data"] == []
    status, window = await api.get("/ops/audit?created_to=2000-01-01T00:00:00Z")
    assert window["data"] == []


def test_resolving_with_two_operators_cannot_be_turned_off() -> None:
    with pytest.raises(ValueError, match="cannot be turned off"):
        MakerCheckerSettings(resolve=False)
