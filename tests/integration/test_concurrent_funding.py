"""Concurrent fundings on a fresh database: the external cash-in account is opened once, by
whichever funding comes first, and no funding fails for it."""

from __future__ import annotations

import asyncio

from paygate_testkit import SignedClient


async def test_twenty_concurrent_fundings_of_a_fresh_database_all_succeed(api: SignedClient) -> None:
    accounts = [await api.open_account(owner=f"owner {i}") for i in range(4)]

    async def fund(i: int) -> int:
        status, body = await api.post(
            f"/ops/accounts/{accounts[i % 4]}/fund",
            {"out_request_no": f"concurrent-{i}", "amount": "10.00", "currency": "CNY"},
        )
        assert status < 500, body
        return status

    statuses = await asyncio.gather(*(fund(i) for i in range(20)))
    assert statuses == [201] * 20
    assert [await api.balance(a) for a in accounts] == ["50.00"] * 4
    report = await api.ledger_ok()
    assert report["ok"], report
    assert report["currencies"]["CNY"] == {"sum_of_balances": "0.00", "accounts": 5}
