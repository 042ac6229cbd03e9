"""Specification of error handling on a bill (seed 002, 差错处理; core.bills.actions)."""

from __future__ import annotations

from itertools import product

import pytest
from bill_builders import (
    BANK,
    TRANSFER,
    A,
    S,
    expect,
)

from core.bills.actions import ACTION_OUTCOMES, ErrorAction, allowed_actions, check_action
from core.bills.model import (
    BillStatus,
    PayMode,
    move_bill,
)
from core.errors import Conflict

# -- error handling (差错处理) ---------------------------------------------------------------------

# fmt: off
EXPECTED_ALLOWED: dict[ErrorAction, set[tuple[BillStatus, PayMode]]] = {
    A.REVALIDATE: {(S.VALIDATION_FAILED, BANK), (S.VALIDATION_FAILED, TRANSFER),
                   (S.RISK_REJECTED, BANK), (S.RISK_REJECTED, TRANSFER)},
    A.RESEND_BANK: {(S.BANK_FAILED, BANK)},
    A.REQUERY_BANK: {(S.BANK_SUBMITTED, BANK), (S.BANK_PROCESSING, BANK), (S.BANK_UNKNOWN, BANK)},
    A.RERUN_BUSINESS: {(S.TRANSFER_PENDING, TRANSFER), (S.BANK_SUCCEEDED, BANK),
                       (S.BUSINESS_FAILED, BANK), (S.BUSINESS_FAILED, TRANSFER)},
    A.SWITCH_TO_TRANSFER: {(S.BANK_FAILED, BANK)},
}
# fmt: on
ALL_CASES = list(product(A, S, PayMode))


@pytest.mark.parametrize(
    ("action", "status", "mode"),
    [c for c in ALL_CASES if (c[1], c[2]) in EXPECTED_ALLOWED[c[0]]],
)
def test_action_is_allowed_when_its_precondition_holds(
    action: ErrorAction, status: BillStatus, mode: PayMode
) -> None:
    check_action(action, status, mode)
    assert action in allowed_actions(status, mode)


@pytest.mark.parametrize(
    ("action", "status", "mode"),
    [c for c in ALL_CASES if (c[1], c[2]) not in EXPECTED_ALLOWED[c[0]]],
)
def test_action_is_refused_when_its_precondition_fails(
    action: ErrorAction, status: BillStatus, mode: PayMode
) -> None:
    error = expect(
        lambda: check_action(action, status, mode), "ACTION_PRECONDITION_FAILED", "status", Conflict
    )

    assert error.http_status == 409
    assert status.value in error.message
    assert action not in allowed_actions(status, mode)


@pytest.mark.parametrize(
    ("action", "status", "words"),
    [
        (A.REVALIDATE, S.ACCEPTED, "validation or the risk check failed"),
        (A.RESEND_BANK, S.BANK_SUCCEEDED, "bank result is failed"),
        (A.RESEND_BANK, S.BANK_PROCESSING, "bank result is failed"),
        (A.RESEND_BANK, S.BANK_UNKNOWN, "bank result is failed"),
        (A.REQUERY_BANK, S.BANK_FAILED, "processing"),
        (A.RERUN_BUSINESS, S.COMPLETED, "failed or not completed"),
        (A.SWITCH_TO_TRANSFER, S.BANK_SUCCEEDED, "bank result is failed"),
        (A.SWITCH_TO_TRANSFER, S.BANK_UNKNOWN, "bank result is failed"),
    ],
)
def test_refusal_names_the_unmet_precondition(action: ErrorAction, status: BillStatus, words: str) -> None:
    with pytest.raises(Conflict, match=words):
        check_action(action, status, BANK)


def test_rerun_business_in_bank_mode_needs_the_bank_to_have_succeeded() -> None:
    for status in (S.ACCEPTED, S.BANK_SUBMITTED, S.BANK_PROCESSING, S.BANK_UNKNOWN, S.BANK_FAILED):
        with pytest.raises(Conflict):
            check_action(A.RERUN_BUSINESS, status, BANK)


@pytest.mark.parametrize(
    ("action", "status", "mode"),
    [c for c in ALL_CASES if (c[1], c[2]) in EXPECTED_ALLOWED[c[0]]],
)
def test_every_allowed_action_leads_only_to_legal_moves(
    action: ErrorAction, status: BillStatus, mode: PayMode
) -> None:
    after = TRANSFER if action is A.SWITCH_TO_TRANSFER else mode
    for target in ACTION_OUTCOMES[action]:
        move_bill(status, target, after)
