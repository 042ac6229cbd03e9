"""What the row-parity tests share: one ledger work that writes every table a ledger payment
writes (with non-ASCII text, nested JSON, microseconds and a card number), ids that both runs
make alike, and every table's rows as SQLAlchemy reads them back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ledger import AccountKind, BankCard, FlowKind, account_to_open, funding_plan, transfer
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from gateway.storage.tables import metadata
from ports.channels import DeferredPostings, Exchange
from ports.storage import LedgerWork

NOW = datetime(2026, 12, 1, 9, 30, 0, 5, tzinfo=UTC)
WRITTEN_BY_LEDGER_WORK = {
    "accounts",
    "ledger_txns",
    "ledger_entries",
    "payments",
    "transfer_logs",
    "deferred_settlements",
    "outbox",
    "pay_life_log",
    "channel_exchanges",
}


def payment(id: str, status: PaymentStatus, memo: str | None = None) -> Payment:
    return Payment(
        id=id,
        app_id="app",
        out_request_no=f"r_{id}",
        request_hash="h",
        pay_method="transfer",
        channel="internal",
        amount=Money(990, "CNY"),
        payer_account="acc_a",
        payee_account="acc_b",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        memo=memo,
        details={"upper_merchants": [{"id": "m1", "rate": "0.006"}], "备注": '租金 "quoted" \\ 𝄞'},
    )


async def ledger_work(uow: LedgerWork) -> None:
    """Accounts opened and funded, a transfer, two payments (one saved again), an event, the
    transfer record, a channel exchange, a deferred fee and two flow nodes."""
    card = BankCard("6222020202020202", "李雷")
    for account_id, bank_card in (("acc_a", card), ("acc_b", None)):
        await uow.accounts.open(
            account_to_open(
                "app", account_id, AccountKind.CUSTOMER, "CNY", account_id=account_id, bank_card=bank_card
            ),
            at=NOW,
        )
    plan = funding_plan("acc_a", Money(5000, "CNY"))
    await uow.accounts.open_if_missing(plan.source, at=NOW)
    await uow.ledger.post("fnd_1", plan.postings, at=NOW)
    moved = transfer("acc_a", "acc_b", Money(990, "CNY"), FlowKind.TRANSFER, memo="房租 ' \" ;")
    txn = await uow.ledger.post("pay_1", moved, at=NOW)
    await uow.payments.add(payment("pay_1", PaymentStatus.CREATED, memo="三月 rent"))
    await uow.payments.add(payment("pay_2", PaymentStatus.PROCESSING), query_attempts=1)
    await uow.payments.save(
        payment("pay_1", PaymentStatus.SUCCEEDED), expected_status="created", next_query_at=None
    )
    await uow.outbox.enqueue("app", "payment.succeeded", "pay_1", {"n": 1, "x": [None, 1.5]}, at=NOW)
    await uow.record_transfer(payment("pay_1", PaymentStatus.SUCCEEDED), txn, at=NOW)
    await uow.record_exchanges("pay_1", "internal", [Exchange("pay", "req", None, "é" * 600)], at=NOW)
    fee = transfer("acc_b", "acc_a", Money(10, "CNY"), FlowKind.FEE)
    await uow.add_deferred("pay_1", [DeferredPostings(1, "fee", fee)], at=NOW)
    await uow.write_flow(
        [
            FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, NOW),
            FlowRecord(
                "pay_1", FlowNode.ROUTED, FlowOutcome.FAILED, NOW, "路由 " * 100, {"a": [1, {}]}, "ops"
            ),
        ]
    )


class PredictableIds:
    """Ids counted from zero again after each `reset()`, so both runs make the same ones."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._counter = itertools.count()

    def __call__(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter)}"


async def stored(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, by primary key, as SQLAlchemy reads them."""
    async with engine.connect() as conn:
        return {
            table.name: [
                dict(row._mapping)
                for row in await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
        }


def assert_same_rows(expected: dict[str, list[dict[str, Any]]], got: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in expected.items():
        assert len(got[name]) == len(rows), name
        for row, got_row in zip(rows, got[name], strict=True):
            for column, value in row.items():
                assert (name, column, got_row[column]) == (name, column, value)
