"""The shapes of a bill in answers (callers' and operators'), events and the flow log, cards masked."""

from __future__ import annotations

from typing import Any

from core.bills.actions import bill_action_names
from core.bills.model import Bill, BillKind
from core.cards import mask_card_no


def bill_view(bill: Bill) -> dict[str, Any]:
    """A bill as callers and operators see it: card numbers masked but for their last four."""
    view: dict[str, Any] = {
        "id": bill.id,
        "bill_code": bill.bill_code,
        "kind": bill.kind.value,
        "status": bill.status.value,
        "pay_mode": bill.pay_mode,
        "currency": bill.currency,
        "applicant_account": bill.applicant_account_id,
    }
    if bill.kind is BillKind.LOAN:
        view["amount"] = str(bill.amount)
    else:
        view.update(
            reimbursement_amount=str(bill.amount),
            write_off_total=str(bill.write_off_total),
            write_offs=_write_off_lines(bill),
            real_amount=str(bill.amount - bill.write_off_total),
        )
    failure = bill.failure
    view.update(
        exchange_rate=_rate(bill),
        payer_card_no=mask_card_no(bill.payer_card_no),
        payee_card_no=mask_card_no(bill.payee_card_no),
        payee_name=bill.payee_name,
        payee_bank_name=bill.payee_bank_name,
        payee_bank_no=bill.payee_bank_no,
        memo=bill.memo,
        attempt=bill.attempt,
        payment_id=bill.payment_id,
        failure=None
        if failure is None
        else {"code": failure.code, "message": failure.message, "field": failure.field},
        # bank_failed: definite_refusal | final_8804; null: not verified (no resend, no switch)
        bank_failure_evidence=bill.bank_failure_evidence.value if bill.bank_failure_evidence else None,
        loan=None
        if bill.loan_open_amount is None or bill.loan_state is None
        else {"open_amount": str(bill.loan_open_amount), "state": bill.loan_state.value},
        created_at=bill.created_at.isoformat(),
        updated_at=bill.updated_at.isoformat(),
        completed_at=bill.completed_at.isoformat() if bill.completed_at else None,
    )
    return view


def bill_params(bill: Bill) -> dict[str, Any]:
    """The request parameters a check node of the flow log records (cards masked)."""
    params: dict[str, Any] = {
        "bill_code": bill.bill_code,
        "kind": bill.kind.value,
        "pay_mode": bill.pay_mode,
        "applicant_account": bill.applicant_account_id,
        "currency": bill.currency,
        "amount": str(bill.amount),
        "payer_card_no": mask_card_no(bill.payer_card_no),
        "payee_card_no": mask_card_no(bill.payee_card_no),
        "exchange_rate": _rate(bill),
    }
    if bill.kind is BillKind.REIMBURSEMENT:
        params["write_off_total"] = str(bill.write_off_total)
        params["write_offs"] = _write_off_lines(bill)
    return params


def ops_bill_view(bill: Bill) -> dict[str, Any]:
    """A bill as an operator reads it: its app, and the error-handling actions allowed now."""
    return {**bill_view(bill), "app_id": bill.app_id, "allowed_actions": bill_action_names(bill)}


def action_result_view(bill: Bill) -> dict[str, Any]:
    """A bill after an operator's action, with the actions allowed next."""
    return {**bill_view(bill), "allowed_actions": bill_action_names(bill)}


def _write_off_lines(bill: Bill) -> list[dict[str, str]]:
    return [{"loan_bill_id": w.loan_bill_id, "amount": str(w.amount)} for w in bill.write_offs]


def _rate(bill: Bill) -> str | None:
    return str(bill.exchange_rate) if bill.exchange_rate is not None else None
