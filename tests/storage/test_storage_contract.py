"""The storage ports' contract: one behaviour per test, run on every implementation (the
in-memory fake, SqlUnitOfWork on SQLite and PostgreSQL, the SQLite writer's unit of work). A
ledger payment's work (`storage.transact`) gets a `LedgerWork`."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from storage_harness import Entry, StorageUnderTest

from core.errors import BalanceLimitExceeded, InsufficientFunds, InvalidArgument, NotFound
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ledger import (
    AccountKind,
    FlowKind,
    NewAccount,
    Posting,
    SubAccount,
    account_to_open,
    balance_limit,
    external_account,
    funding_plan,
    transfer,
)
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from ports.channels import DeferredPostings, Exchange
from ports.storage import ConcurrentUpdate, DuplicateRequest, LedgerWork

NOW = datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC)


def payment(
    id: str = "pay_1", app_id: str = "app_a", out_request_no: str = "r1", **changes: object
) -> Payment:
    p = Payment(
        id=id,
        app_id=app_id,
        out_request_no=out_request_no,
        request_hash="h" * 64,
        pay_method="transfer",
        channel="internal",
        amount=Money(1250, "CNY"),
        payer_account="acc_payer",
        payee_account="acc_payee",
        status=PaymentStatus.PROCESSING,
        created_at=NOW,
        updated_at=NOW,
        business_type="C",
        memo="rent",
        details={"periods": 3, "note": "中文"},
    )
    return replace(p, **changes)  # type: ignore[arg-type]


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


async def open_account(
    storage: StorageUnderTest,
    account_id: str,
    *,
    app_id: str = "app_a",
    funded: int = 0,
    overdraft: bool = False,
) -> NewAccount:
    account = account_to_open(
        app_id,
        f"owner of {account_id}",
        AccountKind.CUSTOMER,
        "CNY",
        allow_overdraft=overdraft,
        account_id=account_id,
    )

    async def work(uow: LedgerWork) -> None:
        await uow.accounts.open(account, at=NOW)
        if funded:
            plan = funding_plan(account_id, cny(funded))
            await uow.accounts.open_if_missing(plan.source, at=NOW)
            await uow.ledger.post(f"fund_{account_id}", plan.postings, at=NOW)

    await storage.transact(work)
    return account


# -- payments ---------------------------------------------------------------------------------
async def test_an_added_payment_is_found_by_id_and_by_request_no(storage: StorageUnderTest) -> None:
    async def add(uow: LedgerWork) -> None:
        await uow.payments.add(payment())

    await storage.transact(add)

    async def read(uow: LedgerWork) -> tuple[Payment | None, ...]:
        return (
            await uow.payments.get("pay_1"),
            await uow.payments.get_for_update("pay_1"),
            await uow.payments.by_request_no("app_a", "r1"),
            await uow.payments.get("pay_2"),
            await uow.payments.by_request_no("app_b", "r1"),
        )

    assert await storage.transact(read) == (payment(), payment(), payment(), None, None)


async def test_a_repeated_request_no_of_the_same_app_is_a_duplicate_request(
    storage: StorageUnderTest,
) -> None:
    async def add(uow: LedgerWork, p: Payment) -> None:
        await uow.payments.add(p)

    await storage.transact(lambda uow: add(uow, payment()))
    with pytest.raises(DuplicateRequest):
        await storage.transact(lambda uow: add(uow, payment(id="pay_2", amount=cny(1))))
    await storage.transact(lambda uow: add(uow, payment(id="pay_3", app_id="app_b")))  # another app's

    async def read(uow: LedgerWork) -> list[Payment | None]:
        return [await uow.payments.get(i) for i in ("pay_1", "pay_2", "pay_3")]

    assert await storage.transact(read) == [payment(), None, payment(id="pay_3", app_id="app_b")]


async def test_a_duplicate_leaves_the_rest_of_its_unit_of_work_usable(storage: StorageUnderTest) -> None:
    await storage.transact(lambda uow: uow.payments.add(payment()))

    async def work(uow: LedgerWork) -> bool:
        try:
            await uow.payments.add(payment(id="pay_2"))
        except DuplicateRequest:
            await uow.payments.add(payment(id="pay_3", out_request_no="r3"))
            return True
        return False

    assert await storage.in_uow(work)
    assert await storage.transact(lambda uow: uow.payments.get("pay_3")) == payment(
        id="pay_3", out_request_no="r3"
    )


async def test_a_refused_write_refuses_the_whole_ledger_work(storage: StorageUnderTest) -> None:
    """`Transactions`: a repeat (or an overdraft) raises, at the latest when the work ends, and
    nothing the work wrote stays: not its posting, transfer record, flow nodes or event."""
    await open_account(storage, "acc_payer", funded=1000)
    await open_account(storage, "acc_payee")
    await storage.transact(lambda uow: uow.payments.add(payment()))
    repeat = payment(id="pay_2", status=PaymentStatus.SUCCEEDED)

    async def settle(uow: LedgerWork, legs: tuple[Posting, ...]) -> None:
        txn_id = await uow.ledger.post(repeat.id, legs, at=NOW)
        await uow.record_transfer(repeat, txn_id, at=NOW)
        await uow.outbox.enqueue("app_a", "payment.succeeded", repeat.id, {"n": 1}, at=NOW)
        await uow.write_flow([FlowRecord(repeat.id, FlowNode.FINAL_STATE, FlowOutcome.OK, NOW, "done")])
        await uow.payments.add(repeat)

    within = transfer("acc_payer", "acc_payee", cny(400), FlowKind.TRANSFER)
    with pytest.raises(DuplicateRequest):
        await storage.transact(lambda uow: settle(uow, within))
    beyond = transfer("acc_payer", "acc_payee", cny(4000), FlowKind.TRANSFER)
    with pytest.raises((DuplicateRequest, InsufficientFunds)):
        await storage.transact(lambda uow: settle(uow, beyond))
    assert await storage.probe.balance("acc_payer") == (1000, 0)
    assert await storage.probe.balance("acc_payee") == (0, 0)
    assert [f for f in await storage.probe.flow() if f[0] == repeat.id] == []
    assert await storage.probe.transfers() == []
    assert await storage.probe.outbox() == []
    assert await storage.transact(lambda uow: uow.payments.get("pay_2")) is None


async def test_save_updates_a_payment_still_in_the_expected_status(storage: StorageUnderTest) -> None:
    await storage.transact(lambda uow: uow.payments.add(payment()))
    done = payment(
        status=PaymentStatus.SUCCEEDED,
        updated_at=NOW + timedelta(seconds=5),
        channel_ref="ch_9",
        details={"x": 1},
    )
    await storage.transact(
        lambda uow: uow.payments.save(done, expected_status="processing", query_attempts=2)
    )
    assert await storage.transact(lambda uow: uow.payments.get("pay_1")) == done
    assert (await storage.probe.schedule("pay_1"))["query_attempts"] == 2


async def test_save_from_a_status_it_no_longer_has_is_a_concurrent_update(storage: StorageUnderTest) -> None:
    await storage.transact(lambda uow: uow.payments.add(payment()))
    failed = payment(status=PaymentStatus.FAILED, failure_code="NOPE")
    with pytest.raises(ConcurrentUpdate):
        await storage.transact(lambda uow: uow.payments.save(failed, expected_status="created"))
    assert await storage.transact(lambda uow: uow.payments.get("pay_1")) == payment()


async def test_a_created_payment_is_due_for_a_query_after_the_grace(storage: StorageUnderTest) -> None:
    await storage.transact(lambda uow: uow.payments.add(payment(status=PaymentStatus.CREATED)))
    await storage.transact(lambda uow: uow.payments.add(payment(id="pay_2", out_request_no="r2")))
    created, processing = await storage.probe.schedule("pay_1"), await storage.probe.schedule("pay_2")
    assert created == {"next_query_at": NOW + timedelta(minutes=2), "query_attempts": 0, "escalated": False}
    assert processing == {"next_query_at": None, "query_attempts": 0, "escalated": False}


async def test_a_failing_transaction_leaves_nothing_behind(storage: StorageUnderTest) -> None:
    async def work(uow: LedgerWork) -> None:
        await uow.payments.add(payment())
        await uow.outbox.enqueue("app_a", "payment.succeeded", "pay_1", {}, at=NOW)
        raise RuntimeError("the use case changed its mind")

    with pytest.raises(RuntimeError):
        await storage.transact(work)
    assert await storage.transact(lambda uow: uow.payments.get("pay_1")) is None
    assert await storage.probe.outbox() == []


# -- the rule of a ledger payment's work: it waits on its unit of work only --------------------
async def test_a_ledger_payments_work_that_waits_on_anything_else_is_refused_and_rolled_back(
    storage: StorageUnderTest,
) -> None:
    async def waits_on_a_timer(uow: LedgerWork) -> None:
        await uow.payments.add(payment())
        await asyncio.sleep(0.001)  # as a channel call would: not the unit of work's own wait

    async def yields_to_the_loop(uow: LedgerWork) -> None:
        await uow.payments.add(payment())
        await asyncio.sleep(0)

    for work in (waits_on_a_timer, yields_to_the_loop):
        with pytest.raises(RuntimeError, match="may only use its unit of work"):
            await storage.transact(work)
    assert await storage.transact(lambda uow: uow.payments.get("pay_1")) is None


async def test_a_ledger_payments_work_may_wait_on_each_of_its_ports(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=1000)
    await open_account(storage, "acc_payee")

    async def work(uow: LedgerWork) -> str | None:
        await uow.accounts.visible("app_a", ["acc_payer"])
        txn = await uow.ledger.post(
            "pay_1", transfer("acc_payer", "acc_payee", cny(100), FlowKind.TRANSFER), at=NOW
        )
        await uow.payments.add(payment(status=PaymentStatus.SUCCEEDED))
        await uow.payments.save(payment(status=PaymentStatus.SUCCEEDED), expected_status="succeeded")
        await uow.record_transfer(payment(), txn, at=NOW)
        await uow.record_exchanges("pay_1", "internal", [Exchange("pay", "<r/>", "<ok/>")], at=NOW)
        await uow.add_deferred("pay_1", [], at=NOW)
        return await uow.outbox.enqueue("app_a", "payment.succeeded", "pay_1", {}, at=NOW)

    assert await storage.transact(work) is not None
    assert await storage.probe.balance("acc_payee") == (100, 0)


# -- ledger -----------------------------------------------------------------------------------
async def test_a_balanced_posting_moves_money_and_records_balances_after(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=10_000)
    await open_account(storage, "acc_payee")
    legs = transfer("acc_payer", "acc_payee", cny(2500), FlowKind.TRANSFER, memo="rent")
    txn = await storage.transact(lambda uow: uow.ledger.post("pay_1", legs, at=NOW))
    assert await storage.probe.balance("acc_payer") == (7500, 0)
    assert await storage.probe.balance("acc_payee") == (2500, 0)
    assert await storage.probe.balance(external_account("CNY").view.id) == (-10_000, 0)
    assert await storage.probe.entries(txn) == [
        Entry("acc_payer", SubAccount.AVAILABLE, -2500, 7500),
        Entry("acc_payee", SubAccount.AVAILABLE, 2500, 2500),
    ]


async def test_the_pending_sub_account_is_a_balance_of_its_own(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=1000)
    await open_account(storage, "acc_payee")
    legs = transfer("acc_payer", "acc_payee", cny(400), FlowKind.TRANSFER, target_sub=SubAccount.PENDING)
    await storage.transact(lambda uow: uow.ledger.post("pay_1", legs, at=NOW))
    assert await storage.probe.balance("acc_payee") == (0, 400)


async def test_an_unbalanced_posting_is_refused(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=1000)
    legs = transfer("acc_payer", "acc_payer", cny(100), FlowKind.TRANSFER)[:1]
    with pytest.raises(InvalidArgument) as refused:
        await storage.transact(lambda uow: uow.ledger.post("pay_1", legs, at=NOW))
    assert refused.value.code == "UNBALANCED"
    assert await storage.probe.balance("acc_payer") == (1000, 0)


async def test_an_overdraft_is_refused_and_changes_nothing(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=1000)
    await open_account(storage, "acc_payee")
    legs = transfer("acc_payer", "acc_payee", cny(1001), FlowKind.TRANSFER)
    with pytest.raises(InsufficientFunds):
        await storage.transact(lambda uow: uow.ledger.post("pay_1", legs, at=NOW))
    assert await storage.probe.balance("acc_payer") == (1000, 0)
    assert await storage.probe.balance("acc_payee") == (0, 0)


async def test_a_balance_beyond_what_an_amount_can_say_is_refused_and_changes_nothing(
    storage: StorageUnderTest,
) -> None:
    """Up to the currency's limit either way a balance may go (an overdraft too); one minor unit
    beyond it is refused, and nothing moves: no database integer overflows (PostgreSQL refused
    the statement with a 500; SQLite turned the balance into a float)."""
    limit = balance_limit("CNY")
    assert limit == 999_999_999_999_999_999  # 9999999999999999.99 CNY, as an amount can say
    await open_account(storage, "acc_full", funded=limit)
    await open_account(storage, "acc_payer", overdraft=True)
    await open_account(storage, "acc_sink")

    async def post(subject: str, legs: tuple[Posting, ...]) -> None:
        await storage.transact(lambda uow: uow.ledger.post(subject, legs, at=NOW))

    await post("pay_to_limit", transfer("acc_payer", "acc_sink", cny(limit), FlowKind.TRANSFER))
    for subject, legs in (
        ("pay_below", transfer("acc_payer", "acc_sink", cny(1), FlowKind.TRANSFER)),
        ("pay_above", transfer("acc_sink", "acc_full", cny(1), FlowKind.TRANSFER)),
    ):
        with pytest.raises(BalanceLimitExceeded) as refused:
            await post(subject, legs)
        assert refused.value.code == "BALANCE_LIMIT_EXCEEDED" and refused.value.http_status == 422
    twice = transfer("acc_payer", "acc_sink", cny(limit), FlowKind.TRANSFER) * 2  # one change of 2 x limit
    with pytest.raises(BalanceLimitExceeded):
        await post("pay_twice", twice)
    assert await storage.probe.balance("acc_full") == (limit, 0)
    assert await storage.probe.balance("acc_payer") == (-limit, 0)
    assert await storage.probe.balance("acc_sink") == (limit, 0)


async def test_an_account_allowing_overdraft_may_go_below_zero(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", overdraft=True)
    await open_account(storage, "acc_payee")
    legs = transfer("acc_payer", "acc_payee", cny(300), FlowKind.TRANSFER)
    await storage.transact(lambda uow: uow.ledger.post("pay_1", legs, at=NOW))
    assert await storage.probe.balance("acc_payer") == (-300, 0)


async def test_posting_to_an_unknown_account_or_currency_is_not_found(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=1000)
    unknown = transfer("acc_payer", "acc_nobody", cny(100), FlowKind.TRANSFER)
    usd = transfer("acc_payer", "acc_payer2", Money(100, "USD"), FlowKind.TRANSFER)
    with pytest.raises(NotFound) as missing:
        await storage.transact(lambda uow: uow.ledger.post("pay_1", unknown, at=NOW))
    with pytest.raises(NotFound) as mismatch:
        await storage.transact(lambda uow: uow.ledger.post("pay_2", usd, at=NOW))
    assert (missing.value.code, mismatch.value.code) == ("ACCOUNT_NOT_FOUND", "ACCOUNT_CURRENCY_MISMATCH")
    assert await storage.probe.balance("acc_payer") == (1000, 0)


async def test_one_posting_may_move_both_sub_accounts_of_an_account(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=1000)
    await open_account(storage, "acc_payee")
    legs = transfer("acc_payer", "acc_payee", cny(400), FlowKind.TRANSFER, target_sub=SubAccount.PENDING)
    release = transfer("acc_payee", "acc_payee", cny(150), FlowKind.TRANSFER, source_sub=SubAccount.PENDING)
    txn = await storage.transact(lambda uow: uow.ledger.post("pay_1", legs + release, at=NOW))
    assert await storage.probe.balance("acc_payee") == (150, 250)
    assert await storage.probe.entries(txn) == [
        Entry("acc_payer", SubAccount.AVAILABLE, -400, 600),
        Entry("acc_payee", SubAccount.PENDING, 400, 400),
        Entry("acc_payee", SubAccount.PENDING, -150, 250),
        Entry("acc_payee", SubAccount.AVAILABLE, 150, 150),
    ]


async def test_crossing_transfers_all_commit_without_deadlock(storage: StorageUnderTest) -> None:
    # A -> B and B -> A at the same time: each transaction locks both accounts, in one order
    await open_account(storage, "acc_a", funded=10_000)
    await open_account(storage, "acc_b", funded=10_000)

    async def move(i: int) -> str:
        source, target = ("acc_a", "acc_b") if i % 2 else ("acc_b", "acc_a")
        legs = transfer(source, target, cny(100 + i), FlowKind.TRANSFER)
        return await storage.transact(lambda uow: uow.ledger.post(f"pay_{i}", legs, at=NOW))

    await asyncio.gather(*(move(i) for i in range(20)))
    moved_to_b = sum(100 + i for i in range(20) if i % 2) - sum(100 + i for i in range(20) if not i % 2)
    assert await storage.probe.balance("acc_a") == (10_000 - moved_to_b, 0)
    assert await storage.probe.balance("acc_b") == (10_000 + moved_to_b, 0)


# -- accounts ---------------------------------------------------------------------------------
async def test_an_app_sees_only_its_own_accounts(storage: StorageUnderTest) -> None:
    mine = await open_account(storage, "acc_mine")
    await open_account(storage, "acc_theirs", app_id="app_b")
    visible = await storage.transact(
        lambda uow: uow.accounts.visible("app_a", ["acc_mine", "acc_theirs", "acc_none", "acc_mine"])
    )
    assert visible == {"acc_mine": mine.view}
    assert await storage.transact(lambda uow: uow.accounts.visible("app_a", [])) == {}


async def test_opening_if_missing_keeps_an_existing_account(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=700)
    ext = external_account("CNY")
    await storage.transact(lambda uow: uow.accounts.open_if_missing(ext, at=NOW + timedelta(days=1)))
    assert await storage.probe.balance(ext.view.id) == (-700, 0)
    assert await storage.probe.balance("acc_payer") == (700, 0)


# -- outbox -----------------------------------------------------------------------------------
async def test_an_enqueued_event_carries_its_id_and_type(storage: StorageUnderTest) -> None:
    event_id = await storage.transact(
        lambda uow: uow.outbox.enqueue(
            "app_a", "payment.succeeded", "pay_1", {"payment": {"id": "pay_1"}}, at=NOW
        )
    )
    assert event_id is not None
    assert await storage.probe.outbox() == [
        {
            "id": event_id,
            "app_id": "app_a",
            "event_type": "payment.succeeded",
            "subject_id": "pay_1",
            "payload": {"event_id": event_id, "event_type": "payment.succeeded", "payment": {"id": "pay_1"}},
        }
    ]


async def test_nothing_is_queued_for_an_app_without_a_notify_url(storage: StorageUnderTest) -> None:
    queued = await storage.transact(
        lambda uow: uow.outbox.enqueue("app_quiet", "payment.failed", "pay_1", {}, at=NOW)
    )
    assert queued is None
    assert await storage.probe.outbox() == []


async def test_a_transfer_log_and_an_event_before_the_payment_insert_commit_or_roll_back_with_it(
    storage: StorageUnderTest,
) -> None:
    # the order of a ledger payment's commit (on PostgreSQL the two rows ride along with the
    # payment's insert): a repeat's insert fails, and its log row and event go with it
    await open_account(storage, "acc_payer", funded=5000)
    await open_account(storage, "acc_payee")

    async def work(uow: LedgerWork, p: Payment) -> tuple[str, str | None]:
        txn = await uow.ledger.post(
            p.id, transfer("acc_payer", "acc_payee", cny(1250), FlowKind.TRANSFER), at=NOW
        )
        await uow.record_transfer(p, txn, at=NOW)
        event = await uow.outbox.enqueue("app_a", "payment.succeeded", p.id, {"n": 1}, at=NOW)
        await uow.payments.add(p)
        return txn, event

    txn, event = await storage.transact(lambda uow: work(uow, payment(status=PaymentStatus.SUCCEEDED)))
    with pytest.raises(DuplicateRequest):
        await storage.transact(lambda uow: work(uow, payment(id="pay_2", status=PaymentStatus.SUCCEEDED)))
    assert await storage.probe.transfers() == [("pay_1", txn, 1250)]
    assert [e["id"] for e in await storage.probe.outbox()] == [event]
    assert await storage.probe.balance("acc_payer") == (3750, 0)


# -- transfer logs, channel exchanges, deferred settlements -----------------------------------
async def test_transfers_exchanges_and_deferred_settlements_are_recorded(storage: StorageUnderTest) -> None:
    await open_account(storage, "acc_payer", funded=5000)
    await open_account(storage, "acc_payee")
    later = (transfer("acc_payer", "acc_payee", cny(100), FlowKind.FEE, memo="fee"),)
    exchanges = [Exchange("pay", "<req/>", "<ok/>"), Exchange("query", "<q/>", None, "timed out")]

    async def work(uow: LedgerWork) -> str:
        txn = await uow.ledger.post(
            "pay_1", transfer("acc_payer", "acc_payee", cny(1250), FlowKind.TRANSFER), at=NOW
        )
        await uow.payments.add(payment(status=PaymentStatus.SUCCEEDED))
        await uow.record_transfer(payment(), txn, at=NOW)
        await uow.record_exchanges("pay_1", "internal", exchanges, at=NOW)
        await uow.add_deferred("pay_1", [DeferredPostings(2, "fee", later[0])], at=NOW)
        await uow.add_deferred("pay_1", [], at=NOW)
        return txn

    txn = await storage.transact(work)
    assert await storage.probe.transfers() == [("pay_1", txn, 1250)]
    assert await storage.probe.exchanges() == [
        ("pay_1", "internal", "pay", "<ok/>", None),
        ("pay_1", "internal", "query", None, "timed out"),
    ]
    assert await storage.probe.deferred() == [("pay_1", 2, "fee", later[0])]


# -- flow log and nonces ----------------------------------------------------------------------
async def test_recorded_flow_is_written_when_flushed(storage: StorageUnderTest) -> None:
    storage.flow.record(FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, NOW, "accepted", {"k": "v"}))
    storage.flow.record(
        FlowRecord("pay_1", FlowNode.ROUTED, FlowOutcome.FAILED, NOW, "no route", actor="ops")
    )
    assert await storage.flow.flush() == 2
    assert await storage.flow.flush() == 0
    assert await storage.probe.flow() == [
        ("pay_1", "accepted", "ok", "accepted"),
        ("pay_1", "routed", "failed", "no route"),
    ]


async def test_a_nonce_is_claimed_once_per_app(storage: StorageUnderTest) -> None:
    assert await storage.nonces.claim("app_a", "n1", NOW)
    assert not await storage.nonces.claim("app_a", "n1", NOW + timedelta(seconds=1))
    assert await storage.nonces.claim("app_b", "n1", NOW)


async def test_purging_nonces_keeps_the_recent_ones(storage: StorageUnderTest) -> None:
    await storage.nonces.claim("app_a", "old", NOW - timedelta(minutes=11))
    await storage.nonces.claim("app_a", "recent", NOW - timedelta(minutes=9))
    assert await storage.nonces.purge(NOW) == 1
    assert await storage.nonces.claim("app_a", "old", NOW)
    assert not await storage.nonces.claim("app_a", "recent", NOW)
