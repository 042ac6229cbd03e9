"""The workflows' repositories' contract (bills, lease orders, payouts, trades): one behaviour per test,
run on every implementation of a whole unit of work (the in-memory fake, SqlUnitOfWork on SQLite
and PostgreSQL; the SQLite writer's storage reaches them through SqlUnitOfWork too)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from storage_harness import StorageUnderTest

from core.bills.model import Bill, BillKind, BillStatus, LoanState
from core.bills.plan import LoanUpdate
from core.general_pay.model import MerchantLevel, UpperMerchant
from core.general_pay.trade import ParallelType, PaySolution, Trade, TradeFlags, TradeStatus, TradeTerms
from core.lease.order import LeaseOrder
from core.lease.parts import Agreement
from core.lease.request import check_order
from core.lease.status import AgreementStatus, OrderStatus
from core.money import Money
from core.payouts.checks import check_item
from core.payouts.model import Payout, PayoutApplication, PayoutStatus
from gateway.http.schemas.lease import LeaseOrderBody
from ports.bills import LoanChanged
from ports.storage import ConcurrentUpdate, DuplicateRequest, UnitOfWork

NOW = datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC)


def bill(id: str = "bill_1", code: str = "JK-1", **changes: object) -> Bill:
    b = Bill(
        id=id,
        app_id="app_a",
        kind=BillKind.LOAN,
        bill_code=code,
        request_hash="h" * 64,
        status=BillStatus.RECEIVED,
        pay_mode="transfer",
        applicant_account_id="acc_emp",
        amount=Money(100_000, "CNY"),
        write_off_total=Money.zero("CNY"),
        write_offs=(),
        created_at=NOW,
        updated_at=NOW,
        memo="中文",
    )
    return replace(b, **changes)  # type: ignore[arg-type]


def lease_order(id: str = "lse_1", out_order_no: str = "RENT-1") -> LeaseOrder:
    body = LeaseOrderBody.model_validate(
        {
            "out_order_no": out_order_no,
            "buyer_id": "2088102146225135",
            "title": "iPhone 16 租赁",
            "total_amount": "200.00",
            "period_count": 2,
            "periods": [
                {"due_date": "2026-12-01", "amount": "100.00"},
                {"due_date": "2027-01-01", "amount": "100.00"},
            ],
        }
    )
    return LeaseOrder.new(id, "app_a", check_order(body), "hash", "ant_lease", NOW)


def payout(id: str = "pyt_1", serial_no: str = "S-1") -> Payout:
    a = check_item(
        {
            "serial_no": serial_no,
            "order_serial_no": "O-1",
            "payee_account": "zhangsan@example.com",
            "amount": "12.30",
            "ext": {"type": 2, "pay_method": 1, "reason": "flight cancelled", "payee_name": "张三"},
        }
    )
    assert isinstance(a, PayoutApplication), a
    return Payout(id, "app_a", a, a.fingerprint(), PayoutStatus.PENDING_REVIEW, NOW, NOW)


# -- bills ------------------------------------------------------------------------------------
async def test_an_added_bill_is_found_by_id_and_by_code(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.bills.add(bill()))

    async def read(uow: UnitOfWork) -> tuple[Bill | None, ...]:
        return (
            await uow.bills.get("bill_1"),
            await uow.bills.get_for_update("bill_1"),
            await uow.bills.by_code("app_a", "JK-1"),
            await uow.bills.by_code("app_b", "JK-1"),
            await uow.bills.get("bill_2"),
        )

    assert await storage.in_uow(read) == (bill(), bill(), bill(), None, None)


async def test_a_repeated_bill_code_of_the_same_app_is_a_duplicate(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.bills.add(bill()))
    with pytest.raises(DuplicateRequest):
        await storage.in_uow(lambda uow: uow.bills.add(bill("bill_2")))
    await storage.in_uow(lambda uow: uow.bills.add(bill("bill_3", app_id="app_b")))


async def test_a_bill_is_saved_only_from_the_status_it_was_read_in(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.bills.add(bill()))
    checked = bill(status=BillStatus.ACCEPTED, updated_at=NOW + timedelta(seconds=1))
    await storage.in_uow(lambda uow: uow.bills.save(checked, expected_status=BillStatus.RECEIVED))
    with pytest.raises(ConcurrentUpdate):
        await storage.in_uow(lambda uow: uow.bills.save(bill(), expected_status=BillStatus.RECEIVED))
    assert await storage.in_uow(lambda uow: uow.bills.get("bill_1")) == checked


async def test_a_loan_is_written_off_only_from_the_open_amount_it_was_planned_from(
    storage: StorageUnderTest,
) -> None:
    loan = bill(
        status=BillStatus.COMPLETED,
        loan_open_amount=Money(100_000, "CNY"),
        loan_state=LoanState.OPEN,
        completed_at=NOW,
    )
    await storage.in_uow(lambda uow: uow.bills.add(loan))
    update = LoanUpdate("bill_1", Money(100_000, "CNY"), Money(40_000, "CNY"), LoanState.OPEN)
    with pytest.raises(LoanChanged):  # nothing reserved: nothing may be written off
        await storage.in_uow(lambda uow: uow.bills.update_loan(update, at=NOW))
    assert await storage.in_uow(lambda uow: uow.bills.reserve_write_off("bill_1", Money(70_000, "CNY")))
    assert not await storage.in_uow(lambda uow: uow.bills.reserve_write_off("bill_1", Money(40_000, "CNY")))
    await storage.in_uow(lambda uow: uow.bills.update_loan(update, at=NOW))
    with pytest.raises(LoanChanged):
        await storage.in_uow(lambda uow: uow.bills.update_loan(update, at=NOW))
    views = await storage.in_uow(lambda uow: uow.bills.loans("app_a", ["bill_1", "bill_1", "bill_x"]))
    assert [(v.bill_id, v.open_amount, v.reserved_amount) for v in views.values()] == [
        ("bill_1", Money(40_000, "CNY"), Money(10_000, "CNY"))
    ]
    assert await storage.in_uow(lambda uow: uow.bills.open_loans("app_a", "acc_emp", excluding="x")) == 1


# -- lease orders -----------------------------------------------------------------------------
async def test_an_added_lease_order_is_found_by_id_and_by_out_order_no(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.lease_orders.add(lease_order()))

    async def read(uow: UnitOfWork) -> tuple[LeaseOrder | None, ...]:
        return (
            await uow.lease_orders.get("lse_1"),
            await uow.lease_orders.get_for_update("lse_1"),
            await uow.lease_orders.by_out_order_no("app_a", "RENT-1"),
            await uow.lease_orders.by_out_order_no("app_b", "RENT-1"),
        )

    assert await storage.in_uow(read) == (lease_order(), lease_order(), lease_order(), None)


async def test_a_repeated_out_order_no_is_a_duplicate(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.lease_orders.add(lease_order()))
    with pytest.raises(DuplicateRequest):
        await storage.in_uow(lambda uow: uow.lease_orders.add(lease_order("lse_2")))


async def test_a_lease_order_is_saved_only_from_the_version_it_was_read_in(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.lease_orders.add(lease_order()))
    synced = lease_order().synced("CH-1", NOW + timedelta(seconds=1))
    saved = await storage.in_uow(lambda uow: uow.lease_orders.save(synced, expected_version=0))
    assert saved.version == 1 and saved.status is OrderStatus.SYNCED
    with pytest.raises(ConcurrentUpdate):
        await storage.in_uow(lambda uow: uow.lease_orders.save(synced, expected_version=0))
    assert await storage.in_uow(lambda uow: uow.lease_orders.get("lse_1")) == saved
    assert await storage.in_uow(lambda uow: uow.lease_orders.unsynced(NOW, 10)) == []


async def test_an_order_never_confirmed_by_its_channel_is_unsynced(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.lease_orders.add(lease_order()))
    assert await storage.in_uow(lambda uow: uow.lease_orders.unsynced(NOW, 10)) == ["lse_1"]
    assert await storage.in_uow(lambda uow: uow.lease_orders.unsynced(NOW - timedelta(seconds=1), 10)) == []


async def test_orders_claimed_for_a_channel_operation_are_found_and_the_template_flag_kept(
    storage: StorageUnderTest,
) -> None:
    at = NOW + timedelta(seconds=1)
    order = lease_order().synced("CH-1", at)
    order = order.contract_signing(
        "TPL", "C1", "u", {"lessee": "u"}, ["lessee"], at, rent_before_finalise=True
    )
    await storage.in_uow(lambda uow: uow.lease_orders.add(lease_order()))
    saved = await storage.in_uow(lambda uow: uow.lease_orders.save(order, expected_version=0))
    assert await storage.in_uow(lambda uow: uow.lease_orders.claimed(at, 10)) == []
    signed = replace(saved, agreement=Agreement(AgreementStatus.SIGNED, 1, "EXT-1", "A1"))
    unsigning = signed.agreement_unsigning("returned", at)
    saved = await storage.in_uow(lambda uow: uow.lease_orders.save(unsigning, expected_version=1))

    read = await storage.in_uow(lambda uow: uow.lease_orders.get("lse_1"))
    assert read == saved and read is not None and read.contract.rent_before_finalise
    assert await storage.in_uow(lambda uow: uow.lease_orders.claimed(at, 10)) == ["lse_1"]
    assert await storage.in_uow(lambda uow: uow.lease_orders.claimed(NOW, 10)) == []


# -- payouts ----------------------------------------------------------------------------------
async def test_an_added_payout_is_found_by_id_and_by_serial_no(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.payouts.add(payout()))

    async def read(uow: UnitOfWork) -> tuple[Payout | None, ...]:
        return (
            await uow.payouts.get("pyt_1"),
            await uow.payouts.get_for_update("pyt_1"),
            await uow.payouts.by_serial_no("app_a", "S-1"),
            await uow.payouts.by_serial_no("app_b", "S-1"),
        )

    assert await storage.in_uow(read) == (payout(), payout(), payout(), None)


async def test_a_repeated_serial_no_is_a_duplicate(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.payouts.add(payout()))
    with pytest.raises(DuplicateRequest):
        await storage.in_uow(lambda uow: uow.payouts.add(payout("pyt_2")))


async def test_a_payout_is_saved_only_from_the_status_it_was_read_in(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.payouts.add(payout()))
    rejected = replace(payout(), status=PayoutStatus.REJECTED, updated_at=NOW + timedelta(seconds=1))
    await storage.in_uow(lambda uow: uow.payouts.save(rejected, expected_status=PayoutStatus.PENDING_REVIEW))
    with pytest.raises(ConcurrentUpdate):
        await storage.in_uow(
            lambda uow: uow.payouts.save(payout(), expected_status=PayoutStatus.PENDING_REVIEW)
        )
    assert await storage.in_uow(lambda uow: uow.payouts.get("pyt_1")) == rejected


# -- trades -----------------------------------------------------------------------------------
def trade(id: str = "trd_1", out_trade_no: str = "T-1") -> Trade:
    cny = lambda minor: Money(minor, "CNY")  # noqa: E731
    terms = TradeTerms(
        "acc_buyer",
        "acc_seller",
        cny(10_000),
        "bank",
        fee_amount=cny(100),
        fee_account_id="acc_wallet",
        payment_mode="balance",
        parallel_type=ParallelType.MULTIPLE,
        pay_solution=PaySolution(
            (UpperMerchant("acc_mid", MerchantLevel.MIDDLE, cny(80), cny(0)),), ("acc_mid",)
        ),
        flags=TradeFlags(need_share_profit=True, special_code="S1"),
        memo="中文",
    )
    return Trade(id, "app_a", out_trade_no, "h" * 64, terms, TradeStatus.CREATED, NOW, NOW)


async def test_an_added_trade_is_read_for_update_as_it_was_added(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.trades.add(trade()))
    assert await storage.in_uow(lambda uow: uow.trades.get_for_update("trd_1")) == trade()
    assert await storage.in_uow(lambda uow: uow.trades.get_for_update("trd_2")) is None
    with pytest.raises(DuplicateRequest):
        await storage.in_uow(lambda uow: uow.trades.add(trade("trd_2")))


async def test_a_trade_follows_its_payment_only_from_the_status_it_was_read_in(
    storage: StorageUnderTest,
) -> None:
    await storage.in_uow(lambda uow: uow.trades.add(trade()))
    at = NOW + timedelta(seconds=1)

    async def paying(uow: UnitOfWork) -> None:
        await uow.trades.record_payment(
            "trd_1", "pay_1", TradeStatus.PAYING, at=at, expected=TradeStatus.CREATED
        )

    await storage.in_uow(paying)
    with pytest.raises(ConcurrentUpdate):
        await storage.in_uow(paying)  # no longer created
    paid = replace(trade(), status=TradeStatus.PAYING, payment_id="pay_1", updated_at=at)
    assert await storage.in_uow(lambda uow: uow.trades.get_for_update("trd_1")) == paid
