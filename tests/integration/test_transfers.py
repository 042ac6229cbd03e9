"""Internal transfers through the HTTP API: accounts, balances, flows, idempotency, the ledger."""

from __future__ import annotations

import asyncio
from typing import Any


async def test_open_account_starts_at_zero(api: Any) -> None:
    account = await api.open_account(kind="C", owner="alice")
    status, body = await api.get(f"/v1/accounts/{account}")
    assert status == 200
    assert body["balance"] == "0.00" and body["kind"] == "C" and body["owner"] == "alice"


async def test_transfer_moves_money_and_balances_the_ledger(api: Any) -> None:
    alice, bob = await api.open_account(owner="alice"), await api.open_account(owner="bob")
    await api.fund(alice, "100.00")
    status, payment = await api.pay(amount="12.34", payer_account=alice, payee_account=bob)
    assert status == 201, payment
    assert payment["status"] == "succeeded" and payment["channel"] == "internal_transfer"
    assert await api.balance(alice) == "87.66"
    assert await api.balance(bob) == "12.34"
    report = await api.ledger_ok()
    assert report["ok"] is True, report
    assert report["currencies"]["CNY"]["sum_of_balances"] == "0.00"


async def test_entries_are_newest_first_and_paginated(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "10.00")
    for amount in ("1.00", "2.00", "3.00"):
        status, _ = await api.pay(amount=amount, payer_account=alice, payee_account=bob)
        assert status == 201
    status, page = await api.get(f"/v1/accounts/{alice}/entries?limit=2")
    assert status == 200
    assert [(e["direction"], e["amount"]) for e in page["entries"]] == [
        ("out", "3.00"),
        ("out", "2.00"),
    ]
    status, rest = await api.get(f"/v1/accounts/{alice}/entries?limit=2&cursor={page['next_cursor']}")
    assert [(e["direction"], e["amount"]) for e in rest["entries"]] == [
        ("out", "1.00"),
        ("in", "10.00"),
    ]
    assert rest["next_cursor"] is None


async def test_insufficient_funds_is_refused_and_writes_nothing(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "5.00")
    status, body = await api.pay(
        out_request_no="too-much", amount="5.01", payer_account=alice, payee_account=bob
    )
    assert status == 422 and body["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert await api.balance(alice) == "5.00"
    status, _ = await api.get("/v1/payments?out_request_no=too-much")
    assert status == 404


async def test_overdraft_account_may_go_below_zero(api: Any) -> None:
    company = await api.open_account(kind="company", allow_overdraft=True)
    bob = await api.open_account()
    status, _ = await api.pay(amount="3.00", payer_account=company, payee_account=bob)
    assert status == 201
    assert await api.balance(company) == "-3.00"
    assert (await api.ledger_ok())["ok"] is True


async def test_repeat_returns_first_result_and_moves_money_once(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "50.00")
    body = {
        "out_request_no": "order-1",
        "amount": "10.00",
        "payer_account": alice,
        "payee_account": bob,
    }
    first_status, first = await api.pay(**body)
    again_status, again = await api.pay(**body)
    assert (first_status, again_status) == (201, 200)
    assert again["id"] == first["id"]
    assert await api.balance(alice) == "40.00"


async def test_reused_request_number_with_other_body_conflicts(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "50.00")
    await api.pay(out_request_no="order-2", amount="10.00", payer_account=alice, payee_account=bob)
    status, body = await api.pay(
        out_request_no="order-2", amount="11.00", payer_account=alice, payee_account=bob
    )
    assert status == 409 and body["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert await api.balance(alice) == "40.00"


async def test_concurrent_duplicates_pay_once(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "100.00")
    body = {
        "out_request_no": "same",
        "amount": "7.00",
        "payer_account": alice,
        "payee_account": bob,
    }
    results = await asyncio.gather(*(api.pay(**body) for _ in range(8)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 7 + [201]
    assert len({payment["id"] for _, payment in results}) == 1
    assert await api.balance(alice) == "93.00"
    assert (await api.ledger_ok())["ok"] is True


async def test_payment_lookup_by_id_and_request_number(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "5.00")
    _, payment = await api.pay(
        out_request_no="look-me-up", amount="1.00", payer_account=alice, payee_account=bob
    )
    status, by_id = await api.get(f"/v1/payments/{payment['id']}")
    assert status == 200 and by_id["status"] == "succeeded"
    status, by_no = await api.get("/v1/payments?out_request_no=look-me-up")
    assert status == 200 and by_no["id"] == payment["id"]


async def test_flow_log_records_every_node(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "5.00")
    _, payment = await api.pay(amount="1.00", payer_account=alice, payee_account=bob)
    status, body = await api.get(f"/v1/payments/{payment['id']}/flow")
    assert status == 200
    nodes = [r["node"] for r in body["flow"]]
    assert nodes == [
        "accepted",
        "validated",
        "risk_checked",
        "routed",
        "channel_request",
        "channel_answer",
        "ledger_posted",
        "final_state",
    ]


async def test_concurrent_writers_of_every_kind_never_fail(api: Any) -> None:
    """Fundings, payments, account openings and nonce claims at once: no "database is locked"."""
    accounts = [await api.open_account() for _ in range(4)]
    await api.fund(accounts[0], "100.00")
    jobs = [api.fund(accounts[i % 4], "1.00") for i in range(12)]
    jobs += [
        api.pay(amount="0.50", payer_account=accounts[0], payee_account=accounts[1 + i % 3])
        for i in range(12)
    ]
    jobs += [api.open_account() for _ in range(6)]
    results = await asyncio.gather(*jobs)
    paid = [r for r in results if isinstance(r, tuple)]
    assert all(status == 201 for status, _ in paid), paid
    report = await api.ledger_ok()
    assert report["ok"] is True, report


async def _stored_nodes(container: Any, subject_id: str | None = None) -> list[tuple[str, str, str]]:
    """The flow log's rows straight from the database (no flush, unlike GET .../flow)."""
    import sqlalchemy as sa

    from gateway.storage import tables as t

    f = t.flow_log
    stmt = sa.select(f.c.subject_id, f.c.node, f.c.message).order_by(f.c.id)
    if subject_id is not None:
        stmt = stmt.where(f.c.subject_id == subject_id)
    async with container.engine().connect() as conn:
        return [(r[0], r[1], r[2]) for r in await conn.execute(stmt)]


async def test_a_transfers_nodes_are_stored_when_it_is_answered(api: Any, container: Any) -> None:
    """Written in the transfer's own transaction: durable before the answer, nothing buffered."""
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "5.00")
    status, payment = await api.pay(amount="1.00", payer_account=alice, payee_account=bob)
    assert status == 201
    nodes = [node for _, node, _ in await _stored_nodes(container, payment["id"])]
    assert nodes == [
        "accepted",
        "validated",
        "risk_checked",
        "routed",
        "channel_request",
        "channel_answer",
        "ledger_posted",
        "final_state",
    ]


async def test_buffered_nodes_of_a_request_are_stored_before_its_answer(api: Any, container: Any) -> None:
    """A funding's node goes through the buffer: the answer waits for its flush."""
    alice = await api.open_account()
    await api.fund(alice, "5.00")
    funded = [m for _, node, m in await _stored_nodes(container) if node == "ledger_posted"]
    assert funded == ["funded 5.00 CNY"]
    assert container.flow().pending == 0


async def test_money_beyond_what_an_amount_can_say_is_refused_not_a_500(api: Any) -> None:
    """A funding of the largest amount takes the outside world's account to the limit; one
    cent more anywhere is refused with 422 BALANCE_LIMIT_EXCEEDED naming the account, nothing
    booked, the ledger whole (PostgreSQL answered 500 on a bigint overflow; SQLite kept a float
    balance)."""
    largest = "9999999999999999.99"
    rich, other = await api.open_account(), await api.open_account()
    lender = await api.open_account(allow_overdraft=True)
    await api.fund(rich, largest)
    status, body = await api.post(
        f"/ops/accounts/{other}/fund",
        {"out_request_no": "one-cent-more", "amount": "0.01", "currency": "CNY"},
    )
    assert (status, body["error"]["code"]) == (422, "BALANCE_LIMIT_EXCEEDED"), body
    assert "ext_cash_cny" in body["error"]["message"]
    status, body = await api.pay(amount="0.01", payer_account=lender, payee_account=rich)
    assert (status, body["error"]["code"]) == (422, "BALANCE_LIMIT_EXCEEDED"), body
    assert rich in body["error"]["message"]
    balances = [await api.balance(a) for a in (rich, other, lender)]
    assert balances == [largest, "0.00", "0.00"]
    assert (await api.ledger_ok())["ok"] is True
