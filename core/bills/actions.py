"""Error handling of a bill (差错处理): the actions an operator may take and the seed's preconditions.

Error handling (差错处理, `check_action`), each refused with ACTION_PRECONDITION_FAILED (409):
    REVALIDATE          validation or risk check failed
    RESEND_BANK         bank mode, bank result failed (the gateway issues a new packet_id)
    REQUERY_BANK        bank mode, bank submitted / processing / unknown
    RERUN_BUSINESS      transfer mode or bank succeeded, and business failed or not completed
    SWITCH_TO_TRANSFER  bank mode, bank result failed (never after a bank success)
RESEND_BANK and SWITCH_TO_TRANSFER also need the failure verified (`Bill.bank_failure_evidence`:
a definite refusal or a final 8804 answer). No action leads to a second payment: the bank is
asked to pay again only after a verified definite rejection, business runs only from a state
that has not completed it, and a bill never leaves the bank path once the bank succeeded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from core.bills.codes import ACTION_PRECONDITION_FAILED
from core.bills.model import BANK_ANSWERS, BUSINESS_OUTCOMES, CHECK_OUTCOMES, Bill, BillStatus, PayMode
from core.errors import Conflict

_S = BillStatus


class ErrorAction(enum.StrEnum):
    """差错处理: what an operator may do to a stuck or failed bill."""

    REVALIDATE = "revalidate"  # 重新校验
    RESEND_BANK = "resend_bank"  # 发起银行支付, with a new packet_id
    REQUERY_BANK = "requery_bank"  # 发起银行查询 (8804)
    RERUN_BUSINESS = "rerun_business"  # 发起业务处理
    SWITCH_TO_TRANSFER = "switch_to_transfer"  # 更新支付模式: 银企 -> 转账


_B, _T = PayMode.BANK, PayMode.TRANSFER
# (status, pay mode) pairs in which each action is allowed, and the seed's precondition.
_ACTION_RULES: dict[ErrorAction, tuple[frozenset[tuple[BillStatus, PayMode]], str]] = {
    ErrorAction.REVALIDATE: (
        frozenset((s, m) for s in (_S.VALIDATION_FAILED, _S.RISK_REJECTED) for m in (_B, _T)),
        "re-validate only after the validation or the risk check failed (支付校验失败 / 风控校验失败)",
    ),
    ErrorAction.RESEND_BANK: (
        frozenset({(_S.BANK_FAILED, _B)}),
        "re-send the bank payment only in bank mode when the bank result is failed (银行处理结果为失败); "
        "never after a success or while the bank is processing or its answer is unknown",
    ),
    ErrorAction.REQUERY_BANK: (
        frozenset((s, _B) for s in (_S.BANK_SUBMITTED, _S.BANK_PROCESSING, _S.BANK_UNKNOWN)),
        "re-query the bank only in bank mode while the bank result is processing (处理中) or unknown",
    ),
    ErrorAction.RERUN_BUSINESS: (
        frozenset(
            {
                (_S.TRANSFER_PENDING, _T),
                (_S.BANK_SUCCEEDED, _B),
                (_S.BUSINESS_FAILED, _B),
                (_S.BUSINESS_FAILED, _T),
            }
        ),
        "re-run business processing only in transfer mode or after the bank succeeded, and only while "
        "business processing has failed or not completed",
    ),
    ErrorAction.SWITCH_TO_TRANSFER: (
        frozenset({(_S.BANK_FAILED, _B)}),
        "switch to system transfer only in bank mode when the bank result is failed (银行处理结果为失败), "
        "so a bill the bank paid is never paid again",
    ),
}

# Where each action may take the bill (the move is made with move_bill once the outcome is known).
ACTION_OUTCOMES: Mapping[ErrorAction, frozenset[BillStatus]] = {
    ErrorAction.REVALIDATE: frozenset(CHECK_OUTCOMES),
    ErrorAction.RESEND_BANK: frozenset({_S.BANK_SUBMITTED}),
    ErrorAction.REQUERY_BANK: frozenset(BANK_ANSWERS),
    ErrorAction.RERUN_BUSINESS: frozenset(BUSINESS_OUTCOMES),
    ErrorAction.SWITCH_TO_TRANSFER: frozenset({_S.TRANSFER_PENDING}),
}


def check_action(action: ErrorAction, status: BillStatus, pay_mode: PayMode) -> None:
    """Refuse an error-handling action whose seed precondition the bill does not meet."""
    allowed, precondition = _ACTION_RULES[action]
    if (status, pay_mode) not in allowed:
        raise Conflict(
            f"{action.value} refused: {precondition}; the bill is {status.value} in {pay_mode.value} mode",
            field="status",
            code=ACTION_PRECONDITION_FAILED,
        )


def allowed_actions(status: BillStatus, pay_mode: PayMode) -> frozenset[ErrorAction]:
    """The error-handling actions an operator may take on a bill now."""
    return frozenset(
        action for action, (allowed, _) in _ACTION_RULES.items() if (status, pay_mode) in allowed
    )


# Actions that lead to another payment of the bill: only once its bank failure is verified.
NEED_VERIFIED_FAILURE = frozenset({ErrorAction.RESEND_BANK, ErrorAction.SWITCH_TO_TRANSFER})


def check_bill_action(action: ErrorAction, bill: Bill) -> None:
    """`check_action` on a stored bill; a bill whose requested pay mode is unsupported counts as
    transfer mode (it never reached the bank). Resend and switch also need a verified failure."""
    check_action(action, bill.status, bill.mode or PayMode.TRANSFER)
    if action in NEED_VERIFIED_FAILURE and bill.bank_failure_evidence is None:
        raise Conflict(
            f"{action.value} refused: the bank failure of attempt {bill.attempt} is not verified (neither a "
            "definite refusal nor a final 8804 answer), so the bank may have paid it",
            field="status",
            code=ACTION_PRECONDITION_FAILED,
        )


def bill_action_names(bill: Bill) -> list[str]:
    """The names of the actions an operator may take on the stored bill now, sorted."""
    allowed = allowed_actions(bill.status, bill.mode or PayMode.TRANSFER)
    if bill.bank_failure_evidence is None:
        allowed -= NEED_VERIFIED_FAILURE
    return sorted(action.value for action in allowed)
