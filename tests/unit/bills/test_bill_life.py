"""Specification of the life of a bill (seed 002; core.bills.model: BILL_STATES, move_bill)."""

from __future__ import annotations

import pytest
from bill_builders import (
    BANK,
    TRANSFER,
    S,
)

from core.bills.model import (
    BILL_STATES,
    BillStatus,
    PayMode,
    move_bill,
)
from core.errors import IllegalTransition

# -- life of a bill -------------------------------------------------------------------------------


def walk(mode: PayMode, *path: BillStatus) -> None:
    for current, target in zip(path, path[1:], strict=False):
        move_bill(current, target, mode)


def test_bank_bill_goes_from_received_to_completed() -> None:
    walk(
        BANK,
        S.RECEIVED,
        S.ACCEPTED,
        S.BANK_SUBMITTED,
        S.BANK_PROCESSING,
        S.BANK_PROCESSING,
        S.BANK_UNKNOWN,
        S.BANK_SUCCEEDED,
        S.COMPLETED,
    )


def test_transfer_bill_goes_from_received_to_completed() -> None:
    walk(
        TRANSFER,
        S.RECEIVED,
        S.ACCEPTED,
        S.TRANSFER_PENDING,
        S.BUSINESS_FAILED,
        S.BUSINESS_FAILED,
        S.COMPLETED,
    )


def test_rejected_bank_payment_is_resent_or_switched_to_transfer() -> None:
    walk(BANK, S.BANK_SUBMITTED, S.BANK_FAILED, S.BANK_SUBMITTED, S.BANK_FAILED)
    move_bill(S.BANK_FAILED, S.TRANSFER_PENDING, TRANSFER)


def test_failed_checks_can_be_rerun_until_accepted() -> None:
    walk(
        BANK,
        S.RECEIVED,
        S.VALIDATION_FAILED,
        S.VALIDATION_FAILED,
        S.RISK_REJECTED,
        S.RISK_REJECTED,
        S.VALIDATION_FAILED,
        S.ACCEPTED,
    )


ILLEGAL_MOVES = [
    (S.RECEIVED, S.BANK_SUBMITTED),
    (S.RECEIVED, S.COMPLETED),
    (S.VALIDATION_FAILED, S.BANK_SUBMITTED),
    (S.RISK_REJECTED, S.TRANSFER_PENDING),
    (S.ACCEPTED, S.COMPLETED),
    (S.ACCEPTED, S.BANK_SUCCEEDED),
    (S.BANK_SUBMITTED, S.BANK_SUBMITTED),
    (S.BANK_SUBMITTED, S.COMPLETED),
    (S.BANK_PROCESSING, S.BANK_SUBMITTED),
    (S.BANK_PROCESSING, S.TRANSFER_PENDING),
    (S.BANK_UNKNOWN, S.BANK_SUBMITTED),
    (S.BANK_UNKNOWN, S.TRANSFER_PENDING),
    (S.BANK_SUCCEEDED, S.BANK_SUBMITTED),
    (S.BANK_SUCCEEDED, S.TRANSFER_PENDING),
    (S.BANK_SUCCEEDED, S.BANK_FAILED),
    (S.BANK_FAILED, S.COMPLETED),
    (S.BANK_FAILED, S.BANK_SUCCEEDED),
    (S.TRANSFER_PENDING, S.BANK_SUBMITTED),
    (S.BUSINESS_FAILED, S.BANK_SUBMITTED),
    (S.BUSINESS_FAILED, S.TRANSFER_PENDING),
    *((S.COMPLETED, target) for target in S),
]


@pytest.mark.parametrize(("current", "target"), ILLEGAL_MOVES)
def test_state_machine_refuses_illegal_moves(current: BillStatus, target: BillStatus) -> None:
    for mode in PayMode:
        with pytest.raises(IllegalTransition):
            move_bill(current, target, mode)


@pytest.mark.parametrize(
    ("current", "target", "mode"),
    [
        (S.ACCEPTED, S.BANK_SUBMITTED, TRANSFER),
        (S.ACCEPTED, S.TRANSFER_PENDING, BANK),
        (S.BANK_FAILED, S.TRANSFER_PENDING, BANK),
        (S.BANK_FAILED, S.BANK_SUBMITTED, TRANSFER),
    ],
)
def test_bank_path_is_for_bank_mode_and_transfer_pending_for_transfer(
    current: BillStatus, target: BillStatus, mode: PayMode
) -> None:
    assert BILL_STATES.can(current, target)
    with pytest.raises(IllegalTransition):
        move_bill(current, target, mode)


def test_completed_is_the_only_final_state() -> None:
    assert [s for s in S if BILL_STATES.is_final(s)] == [S.COMPLETED]


def reachable(start: BillStatus) -> set[BillStatus]:
    seen, todo = {start}, [start]
    while todo:
        current = todo.pop()
        for target in S:
            if BILL_STATES.can(current, target) and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def predecessors(target: BillStatus) -> set[BillStatus]:
    return {s for s in S if BILL_STATES.can(s, target)}


def test_every_bill_can_still_complete() -> None:
    assert all(S.COMPLETED in reachable(s) for s in S)


def test_the_bank_is_asked_to_pay_only_after_acceptance_or_a_definite_rejection() -> None:
    assert predecessors(S.BANK_SUBMITTED) == {S.ACCEPTED, S.BANK_FAILED}
    assert predecessors(S.TRANSFER_PENDING) == {S.ACCEPTED, S.BANK_FAILED}


def test_a_bill_the_bank_paid_never_pays_again() -> None:
    assert reachable(S.BANK_SUCCEEDED) == {S.BANK_SUCCEEDED, S.BUSINESS_FAILED, S.COMPLETED}


def test_a_transfer_bill_never_reaches_the_bank() -> None:
    assert not reachable(S.TRANSFER_PENDING) & {
        S.BANK_SUBMITTED,
        S.BANK_PROCESSING,
        S.BANK_UNKNOWN,
        S.BANK_SUCCEEDED,
        S.BANK_FAILED,
    }


def test_business_runs_only_after_the_money_side_is_settled() -> None:
    assert predecessors(S.COMPLETED) == {S.BANK_SUCCEEDED, S.TRANSFER_PENDING, S.BUSINESS_FAILED}
    assert predecessors(S.BUSINESS_FAILED) == {S.BANK_SUCCEEDED, S.TRANSFER_PENDING, S.BUSINESS_FAILED}
