"""Specification of the shapes of a bill in answers (core.usecases.bills.views)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.bills.model import BankFailureEvidence, Bill, BillKind, BillStatus, WriteOffLine
from core.money import Money
from core.usecases.bills.views import action_result_view, bill_params, bill_view, ops_bill_view

AT = datetime(2026, 1, 5, tzinfo=UTC)


def reimbursement(status: BillStatus = BillStatus.BANK_FAILED) -> Bill:
    return Bill(
        id="bill_1",
        app_id="app1",
        kind=BillKind.REIMBURSEMENT,
        bill_code="BX-1",
        request_hash="h",
        status=status,
        pay_mode="bank",
        applicant_account_id="emp1",
        amount=Money(30_000, "CNY"),
        write_off_total=Money(10_000, "CNY"),
        write_offs=(WriteOffLine("loan_1", Money(10_000, "CNY")),),
        created_at=AT,
        updated_at=AT,
        payer_card_no="9550880000000001",
        payee_card_no="6225 8800 1111 2222",
        bank_failure_evidence=BankFailureEvidence.FINAL_8804 if status is BillStatus.BANK_FAILED else None,
    )


def test_a_reimbursement_shows_its_real_amount_and_masked_cards() -> None:
    view = bill_view(reimbursement())

    assert view["real_amount"] == "200.00" and "amount" not in view
    assert view["write_offs"] == [{"loan_bill_id": "loan_1", "amount": "100.00"}]
    assert (view["payer_card_no"], view["payee_card_no"]) == ("************0001", "************2222")


def test_an_operator_sees_the_app_and_the_actions_allowed_now() -> None:
    view = ops_bill_view(reimbursement())

    assert view["app_id"] == "app1"
    assert view["allowed_actions"] == ["resend_bank", "switch_to_transfer"]
    assert action_result_view(reimbursement(BillStatus.COMPLETED))["allowed_actions"] == []
    assert "app_id" not in action_result_view(reimbursement())


def test_the_flow_log_records_the_request_parameters_masked() -> None:
    params = bill_params(reimbursement())

    assert params["payee_card_no"] == "************2222"
    assert params["write_off_total"] == "100.00" and params["write_offs"][0]["loan_bill_id"] == "loan_1"
