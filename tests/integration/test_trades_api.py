"""Seed 003 as written, through the API on SQLite and PostgreSQL: a trade stored with its terms
(POST /v1/trades), read back, then paid once (POST /v1/trades/{id}/pay) with the seed's
overrides, by the same checks as the one-step payment."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest


@pytest.fixture
async def parties(api: Any) -> dict[str, str]:
    ids = {
        "buyer": await api.open_account(kind="C", owner="buyer"),
        "seller": await api.open_account(kind="B", owner="seller"),
        "wallet": await api.open_account(kind="C", owner="platform wallet"),
        "wallet2": await api.open_account(kind="C", owner="second wallet"),
        "middle": await api.open_account(kind="B", owner="agent"),
        "top": await api.open_account(kind="B", owner="top agent"),
    }
    await api.fund(ids["buyer"], "1000.00")
    return ids


async def create(api: Any, p: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {
        "out_trade_no": f"T-{uuid.uuid4().hex[:12]}",
        "amount": "100.00",
        "currency": "CNY",
        "payer_account": p["buyer"],
        "payee_account": p["seller"],
        "fee": {"amount": "0.60", "account": p["wallet"]},
        "payment_mode": "balance",
        "flags": {
            "need_share_profit": True,
            "client_source": "h5",
            "special_code": "S1",
            "recvable_id": "R-9",
        },
        **fields,
    }
    status, trade = await api.post("/v1/trades", body)
    assert status == 201, trade
    return dict(trade)


async def test_a_trade_is_stored_then_read_with_its_terms_and_flags(
    api: Any, parties: dict[str, str]
) -> None:
    trade = await create(api, parties)
    status, read = await api.get(f"/v1/trades/{trade['id']}")
    assert status == 200 and read == trade
    assert (read["status"], read["payment_id"], read["fee"]) == (
        "created",
        None,
        {"amount": "0.60", "account": parties["wallet"]},
    )
    assert read["flags"]["special_code"] == "S1" and read["flags"]["need_share_profit"] is True
    assert await api.balance(parties["seller"]) == "0.00"  # nothing moves before the payment


async def test_paying_with_the_seeds_overrides_books_the_overridden_terms(
    api: Any, parties: dict[str, str]
) -> None:
    p = parties
    trade = await create(api, p)
    status, paid = await api.post(
        f"/v1/trades/{trade['id']}/pay",
        {
            "fee": {
                "amount": "1.50",
                "account": p["wallet2"],
                "type": "deducted",
                "settlement": "realtime",
                "pay_mode": "balance",
            }
        },
    )
    assert status == 201, paid
    assert (paid["trade"]["status"], paid["payment"]["status"]) == ("paid", "succeeded")
    assert paid["trade"]["payment_id"] == paid["payment"]["id"]
    assert [await api.balance(p[k]) for k in ("seller", "wallet", "wallet2")] == ["98.50", "0.00", "1.50"]
    assert (await api.ledger_ok())["ok"]


async def test_a_pay_mode_other_than_the_template_is_refused_and_nothing_moves(
    api: Any, parties: dict[str, str]
) -> None:
    trade = await create(api, parties)
    status, refused = await api.post(
        f"/v1/trades/{trade['id']}/pay",
        {"fee": {"type": "deducted", "settlement": "realtime", "pay_mode": "card"}},
    )
    assert (status, refused["error"]["code"]) == (422, "PAY_MODE_MISMATCH")
    assert (await api.get(f"/v1/trades/{trade['id']}"))[1]["status"] == "created"
    assert await api.balance(parties["seller"]) == "0.00"


async def test_a_multiple_trade_pays_along_its_stored_pay_solution(api: Any, parties: dict[str, str]) -> None:
    p = parties
    trade = await create(
        api,
        p,
        fee={"amount": "1.00", "account": p["wallet"]},
        parallel_type="multiple",
        pay_solution={
            "upper_merchants": [
                {"account": p["middle"], "level": 1, "fee_amount": "0.80"},
                {"account": p["top"], "level": 2, "fee_amount": "0.50", "fee_plus_amount": "0.80"},
            ],
            "fee_solution": [p["middle"], p["top"]],
        },
    )
    status, paid = await api.post(f"/v1/trades/{trade['id']}/pay", {})
    assert status == 201, paid
    assert [await api.balance(p[k]) for k in ("seller", "middle", "top", "wallet")] == [
        "99.00",
        "0.20",
        "0.30",
        "0.50",
    ]


async def test_a_zero_fee_needs_no_fee_account(api: Any, parties: dict[str, str]) -> None:
    trade = await create(api, parties, fee={"amount": "0"})
    status, paid = await api.post(
        f"/v1/trades/{trade['id']}/pay", {"buyer_fee": {"amount": "0", "account": "nobody"}}
    )
    assert status == 201, paid
    assert await api.balance(parties["seller"]) == "100.00"


async def test_a_trade_is_paid_once(api: Any, parties: dict[str, str]) -> None:
    trade = await create(api, parties)
    path = f"/v1/trades/{trade['id']}/pay"
    first = await api.post(path, {})
    repeat = await api.post(path, {})
    other = await api.post(path, {"settlement": "async"})
    assert (first[0], repeat[0]) == (201, 200)
    assert repeat[1]["payment"]["id"] == first[1]["payment"]["id"]
    assert (other[0], other[1]["error"]["code"]) == (409, "TRADE_ALREADY_PAID")
    assert await api.balance(parties["seller"]) == "99.40"


async def test_concurrent_pay_requests_on_one_trade_make_exactly_one_payment(
    api: Any, parties: dict[str, str]
) -> None:
    trade = await create(api, parties)
    path = f"/v1/trades/{trade['id']}/pay"
    bodies = [{"fee": {"amount": f"0.{n}0"}} for n in range(1, 9)]
    answers = await asyncio.gather(*(api.post(path, body) for body in bodies))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 7, answers
    [(_, paid)] = [a for a in answers if a[0] == 201]
    status, read = await api.get(f"/v1/trades/{trade['id']}")
    assert (read["status"], read["payment_id"]) == ("paid", paid["payment"]["id"])
    assert await api.balance(parties["buyer"]) == "900.00"
    assert (await api.ledger_ok())["ok"]


async def test_another_apps_trade_is_not_found(api: Any, other_app: Any, parties: dict[str, str]) -> None:
    trade = await create(api, parties)
    assert (await other_app.get(f"/v1/trades/{trade['id']}"))[0] == 404
    assert (await other_app.post(f"/v1/trades/{trade['id']}/pay", {}))[0] == 404


async def test_the_one_step_payment_shares_the_zero_fee_rules(api: Any, parties: dict[str, str]) -> None:
    status, body = await api.pay(
        amount="10.00",
        payer_account=parties["buyer"],
        payee_account=parties["seller"],
        fee={"amount": "0", "account": "nobody"},
        buyer_fee={"amount": "0", "account": "nobody-either"},
    )
    assert status == 201, body
    assert await api.balance(parties["seller"]) == "10.00"
