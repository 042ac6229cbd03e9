"""Seed 003 through the API: fees, buyer fee, upper merchants, profit sharing, async settlement."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
async def parties(api: Any) -> dict[str, str]:
    ids = {
        "buyer": await api.open_account(kind="C", owner="buyer"),
        "seller": await api.open_account(kind="B", owner="seller"),
        "wallet": await api.open_account(kind="C", owner="platform wallet"),
        "middle": await api.open_account(kind="B", owner="agent"),
        "top": await api.open_account(kind="B", owner="top agent"),
        "partner": await api.open_account(kind="B", owner="partner"),
    }
    await api.fund(ids["buyer"], "1000.00")
    return ids


async def test_deducted_fee_goes_to_the_wallet(api: Any, parties: dict[str, str]) -> None:
    status, body = await api.pay(
        amount="100.00",
        payer_account=parties["buyer"],
        payee_account=parties["seller"],
        fee={"amount": "0.60", "account": parties["wallet"]},
    )
    assert status == 201, body
    assert await api.balance(parties["seller"]) == "99.40"
    assert await api.balance(parties["wallet"]) == "0.60"
    assert (await api.ledger_ok())["ok"]


async def test_two_level_merchant_chain_splits_the_fee(api: Any, parties: dict[str, str]) -> None:
    p = parties
    status, body = await api.pay(
        amount="100.00",
        payer_account=p["buyer"],
        payee_account=p["seller"],
        fee={
            "amount": "1.00",
            "account": p["wallet"],
            "type": "deducted",
            "settlement": "realtime",
            "pay_mode": "balance",
        },
        upper_merchants=[
            {"account": p["middle"], "level": 1, "fee_amount": "0.80", "fee_plus_amount": "0"},
            {"account": p["top"], "level": 2, "fee_amount": "0.50", "fee_plus_amount": "0.80"},
        ],
        fee_solution=[p["middle"], p["top"]],
    )
    assert status == 201, body
    assert [await api.balance(p[k]) for k in ("seller", "middle", "top", "wallet")] == [
        "99.00",
        "0.20",
        "0.30",
        "0.50",
    ]
    assert (await api.ledger_ok())["ok"]


async def test_profit_sharing_and_buyer_fee(api: Any, parties: dict[str, str]) -> None:
    p = parties
    status, body = await api.pay(
        amount="50.00",
        payer_account=p["buyer"],
        payee_account=p["seller"],
        buyer_fee={"amount": "1.00", "account": p["wallet"]},
        profit_shares=[{"account": p["partner"], "amount": "5.00"}],
    )
    assert status == 201, body
    assert await api.balance(p["buyer"]) == "949.00"
    assert await api.balance(p["seller"]) == "45.00"
    assert await api.balance(p["partner"]) == "5.00"


async def test_async_settlement_is_pending_until_the_worker_settles(
    api: Any, parties: dict[str, str], container: Any
) -> None:
    from gateway.workers.settlement import SettlementWorker

    p = parties
    status, body = await api.pay(
        amount="20.00",
        payer_account=p["buyer"],
        payee_account=p["seller"],
        settlement="async",
        fee={
            "amount": "0.20",
            "account": p["wallet"],
            "type": "collect_later",
            "settlement": "async",
            "pay_mode": "balance",
        },
    )
    assert status == 201, body
    _, seller = await api.get(f"/v1/accounts/{p['seller']}")
    assert (seller["balance"], seller["pending_balance"]) == ("0.00", "20.00")
    worker = SettlementWorker(container.uow, container.flow(), batch=10)
    assert await worker.run_once() == 1  # the trade settles first ...
    assert await worker.run_once() == 1  # ... then the fee
    _, seller = await api.get(f"/v1/accounts/{p['seller']}")
    assert (seller["balance"], seller["pending_balance"]) == ("19.80", "0.00")
    assert await api.balance(p["wallet"]) == "0.20"
    assert (await api.ledger_ok())["ok"]


@pytest.mark.parametrize(
    ("terms", "code"),
    [
        ({"fee": {"amount": "100.01", "account": "WALLET"}}, "FEE_EXCEEDS_AMOUNT"),
        ({"fee": {"amount": "1.00", "account": "BUYER"}}, "FEE_ACCOUNT_IS_PARTY"),
        ({"fee": {"amount": "1.00", "account": "PARTNER"}}, "FEE_ACCOUNT_NOT_CUSTOMER"),
        (
            {"fee": {"amount": "1.00", "account": "WALLET", "type": "deducted"}},
            "FEE_TERMS_INCOMPLETE",
        ),
        (
            {
                "fee": {
                    "amount": "1.00",
                    "account": "WALLET",
                    "type": "collect_later",
                    "settlement": "realtime",
                    "pay_mode": "x",
                }
            },
            "FEE_SETTLEMENT_CONFLICT",
        ),
        ({"profit_shares": [{"account": "PARTNER", "amount": "100.01"}]}, "PROFIT_SHARE_EXCEEDS"),
        ({"payee_account": "BUYER"}, "PAYER_PAYEE_SAME"),
    ],
)
async def test_each_general_pay_rule_has_its_own_code(
    api: Any, parties: dict[str, str], terms: dict[str, Any], code: str
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return (
            parties[value.lower()]
            if isinstance(value, str) and value.isupper() and value.lower() in parties
            else value
        )

    body = {
        "amount": "100.00",
        "payer_account": parties["buyer"],
        "payee_account": parties["seller"],
        **fill(terms),
    }
    status, answer = await api.pay(**body)
    assert status in (400, 422) and answer["error"]["code"] == code, answer
    assert "_id" not in (answer["error"]["field"] or ""), answer
    assert await api.balance(parties["buyer"]) == "1000.00"
