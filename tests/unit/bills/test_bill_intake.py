"""Specification of bill intake (core.usecases.bills.intake, checking) on in-memory fakes."""

from __future__ import annotations

import pytest
from fakes.workflows import APPLICANT as EMP
from fakes.workflows import BILL_APP as APP
from fakes.workflows import bill_world

from core.bills.model import BillKind, BillStatus
from core.errors import DomainError
from core.money import Money
from core.usecases.bills.requests import BillRefused, BillRequest


def loan_request(
    amount: int = 100_000, *, code: str = "JK-1", pay_mode: str = "transfer", digest: str = "h1"
) -> BillRequest:
    return BillRequest(
        app_id=APP,
        kind=BillKind.LOAN,
        request_hash=digest,
        bill_code=code,
        pay_mode=pay_mode,
        applicant_account_id=EMP,
        amount=Money(amount, "CNY"),
        write_off_total=Money.zero("CNY"),
    )


async def test_a_transfer_loan_is_checked_stored_and_completed_at_once() -> None:
    world = bill_world()

    bill, created = await world.intake.submit(loan_request())

    assert created and bill.status is BillStatus.COMPLETED
    assert world.bill(bill.id).loan_state is not None
    assert world.events() == [("bill.completed", bill.id)]
    assert world.postings(bill.id) == [
        (f"cpay_{APP}_CNY", Money(-100_000, "CNY")),
        (EMP, Money(100_000, "CNY")),
    ]
    assert world.flow.nodes(bill.id) == [
        "accepted",
        "validated",
        "risk_checked",
        "request_saved",
        "business_processing",
        "ledger_posted",
        "final_state",
    ]


async def test_the_same_request_again_returns_the_stored_bill() -> None:
    world = bill_world()
    first, _ = await world.intake.submit(loan_request())

    again, created = await world.intake.submit(loan_request())

    assert not created and again == world.bill(first.id)
    assert world.events() == [("bill.completed", first.id)], "nothing runs twice"


async def test_another_body_with_a_used_code_is_refused_naming_the_bill() -> None:
    world = bill_world()
    first, _ = await world.intake.submit(loan_request())

    with pytest.raises(BillRefused) as refused:
        await world.intake.submit(loan_request(200_000, digest="h2"))

    assert refused.value.code == "IDEMPOTENCY_CONFLICT" and refused.value.bill_id == first.id


async def test_a_bill_refused_by_a_check_is_stored_with_its_failure() -> None:
    world = bill_world()

    with pytest.raises(BillRefused) as refused:
        await world.intake.submit(loan_request(pay_mode="cheque"))

    stored = world.bill(refused.value.bill_id)
    assert stored.status is BillStatus.VALIDATION_FAILED
    assert stored.failure is not None and stored.failure.code == "PAY_MODE_UNSUPPORTED"
    assert world.events() == [], "a refusal is answered at once, not by an event"
    validated = [r for r in world.flow.records if r.node.value == "validated"]
    assert validated[0].detail["failed_check"] == "pay_mode" and validated[0].detail["checks_passed"] == []


async def test_a_risk_refusal_records_the_passed_acceptance_checks_first() -> None:
    world = bill_world()

    with pytest.raises(DomainError) as refused:
        await world.intake.submit(loan_request(5_000_001))

    assert refused.value.code == "SINGLE_BILL_LIMIT_EXCEEDED"
    assert isinstance(refused.value, BillRefused)
    assert world.bill(refused.value.bill_id).status is BillStatus.RISK_REJECTED
    nodes = [(r.node.value, r.outcome.value) for r in world.flow.records]
    assert nodes[1:3] == [("validated", "ok"), ("risk_checked", "failed")]
    assert world.flow.records[2].detail["open_loans"] == 0


async def test_a_bill_whose_save_fails_logs_request_saved_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes.bills import FakeBills

    world = bill_world()

    async def broken_add(self: FakeBills, bill: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(FakeBills, "add", broken_add)
    with pytest.raises(OSError):
        await world.intake.submit(loan_request())

    [record] = [r for r in world.flow.records if r.node.value == "request_saved"]
    assert record.outcome.value == "failed" and "OSError" in record.message
    assert record.detail["error"] == "disk full" and world.storage.state.bills == {}
