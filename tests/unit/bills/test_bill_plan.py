"""Specification of the business plan of a bill (seed 002; core.bills.plan)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from bill_builders import (
    BANK,
    COMPANY,
    EMP,
    LIMITS,
    LOANS,
    TRANSFER,
    applicant,
    cny,
    expect,
    loan,
    loan_cmd,
    reimb_cmd,
)
from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.bills.checks import validate_reimbursement
from core.bills.model import (
    BillKind,
    LoanState,
    LoanView,
    ReimbursementCommand,
    bill_kind,
    payout_amount,
    real_amount,
)
from core.bills.plan import LoanUpdate, TransferLog, WriteOffLog, plan_business
from core.errors import BusinessRuleViolation
from core.ledger import FlowKind, Posting, check_balanced

# -- business processing --------------------------------------------------------------------------


def test_loan_moves_the_amount_from_company_to_applicant() -> None:
    plan = plan_business(loan_cmd(), LOANS, COMPANY)

    assert plan.kind is BillKind.LOAN
    assert plan.postings == (
        Posting(COMPANY, cny(-500_000), FlowKind.LOAN, memo="loan"),
        Posting(EMP, cny(500_000), FlowKind.LOAN, memo="loan"),
    )
    assert plan.transfer_log == TransferLog(cny(500_000), COMPANY, EMP)
    assert plan.paid_amount == cny(500_000)
    assert plan.opened_loan == cny(500_000)
    assert plan.write_off_logs == () and plan.loan_updates == ()
    assert plan.write_off_total == cny(0)


def test_reimbursement_without_write_off_pays_it_all_and_touches_no_loan() -> None:
    plan = plan_business(reimb_cmd(300_000), LOANS, COMPANY)

    assert plan.kind is BillKind.REIMBURSEMENT
    assert plan.postings == (
        Posting(COMPANY, cny(-300_000), FlowKind.REIMBURSEMENT, memo="reimbursement"),
        Posting(EMP, cny(300_000), FlowKind.REIMBURSEMENT, memo="reimbursement"),
    )
    assert plan.transfer_log == TransferLog(cny(300_000), COMPANY, EMP)
    assert plan.paid_amount == cny(300_000)
    assert plan.write_off_logs == ()
    assert plan.loan_updates == ()
    assert plan.opened_loan is None


def test_reimbursement_with_partial_write_off_pays_the_rest_and_repays_the_loans() -> None:
    cmd = reimb_cmd(300_000, [("L1", 60_000), ("L2", 40_000)])

    plan = plan_business(cmd, LOANS, COMPANY)

    assert plan.postings == (
        Posting(COMPANY, cny(-200_000), FlowKind.REIMBURSEMENT, memo="reimbursement"),
        Posting(EMP, cny(200_000), FlowKind.REIMBURSEMENT, memo="reimbursement"),
        Posting(EMP, cny(-100_000), FlowKind.WRITE_OFF, memo="write-off"),
        Posting(COMPANY, cny(100_000), FlowKind.WRITE_OFF, memo="write-off"),
    )
    assert plan.transfer_log == TransferLog(cny(200_000), COMPANY, EMP)
    assert plan.paid_amount == cny(200_000)
    assert plan.write_off_total == cny(100_000)
    assert plan.write_off_logs == (WriteOffLog("L1", cny(60_000)), WriteOffLog("L2", cny(40_000)))
    assert plan.loan_updates == (
        LoanUpdate("L1", cny(60_000), cny(0), LoanState.WRITTEN_OFF),
        LoanUpdate("L2", cny(100_000), cny(60_000), LoanState.OPEN),
    )


def test_reimbursement_entirely_written_off_writes_only_the_write_off_flow() -> None:
    cmd = reimb_cmd(100_000, [("L2", 100_000)], pay_mode=TRANSFER)

    plan = plan_business(cmd, LOANS, COMPANY)

    assert plan.postings == (
        Posting(EMP, cny(-100_000), FlowKind.WRITE_OFF, memo="write-off"),
        Posting(COMPANY, cny(100_000), FlowKind.WRITE_OFF, memo="write-off"),
    )
    assert plan.transfer_log is None
    assert plan.paid_amount == cny(0)
    assert plan.write_off_logs == (WriteOffLog("L2", cny(100_000)),)
    assert plan.loan_updates == (LoanUpdate("L2", cny(100_000), cny(0), LoanState.WRITTEN_OFF),)


def test_pay_mode_does_not_change_the_ledger_flows() -> None:
    cmd = reimb_cmd(300_000, [("L1", 60_000)])

    by_bank = plan_business(cmd, LOANS, COMPANY)
    by_transfer = plan_business(replace(cmd, pay_mode=TRANSFER), LOANS, COMPANY)

    assert by_bank == by_transfer


def test_business_refuses_a_loan_written_off_by_another_bill_meanwhile() -> None:
    cmd = reimb_cmd(300_000, [("L1", 60_000)])
    validate_reimbursement(cmd, applicant(), LOANS, False, LIMITS)
    now = {**LOANS, "L1": loan("L1", 10_000, 60_000)}

    expect(
        lambda: plan_business(cmd, now, COMPANY),
        "WRITE_OFF_EXCEEDS_OPEN_AMOUNT",
        "write_offs[0].amount",
        BusinessRuleViolation,
    )


def test_business_refuses_the_company_as_applicant() -> None:
    expect(
        lambda: plan_business(loan_cmd(applicant_account_id=COMPANY), LOANS, COMPANY),
        "APPLICANT_ACCOUNT_INVALID",
        "applicant_account",
        BusinessRuleViolation,
    )


def test_payout_amount_is_what_reaches_the_applicant() -> None:
    cmd = reimb_cmd(300_000, [("L1", 60_000)])

    assert payout_amount(loan_cmd()) == cny(500_000)
    assert payout_amount(cmd) == real_amount(cmd) == cny(240_000)
    assert bill_kind(cmd) is BillKind.REIMBURSEMENT and bill_kind(loan_cmd()) is BillKind.LOAN


# -- property: any valid reimbursement plans a balanced, exact business transaction --------------


@st.composite
def valid_reimbursements(draw: st.DrawFn) -> tuple[ReimbursementCommand, dict[str, LoanView]]:
    currency = draw(st.sampled_from(["CNY", "USD"]))
    loans: dict[str, LoanView] = {}
    for i in range(draw(st.integers(0, 6))):
        amount = draw(st.integers(1, 10**7))
        open_minor = draw(st.integers(0, amount))
        state = LoanState.OPEN if open_minor else LoanState.WRITTEN_OFF
        loans[f"L{i}"] = loan(f"L{i}", open_minor, amount, currency=currency, state=state)
    open_ids = [k for k, v in loans.items() if v.open_amount.minor > 0]
    linked = draw(st.lists(st.sampled_from(open_ids), unique=True, max_size=5)) if open_ids else []
    lines = [(k, draw(st.integers(1, loans[k].open_amount.minor))) for k in linked]
    write_off = sum(minor for _, minor in lines)
    # Bias towards the seed's three cases: W = 0, 0 < W < R and W = R.
    extra = draw(st.one_of(st.just(0), st.integers(1, 10**7)))
    amount = max(write_off + extra, 1)
    bank = currency == "CNY" and amount > write_off and draw(st.booleans())
    cmd = reimb_cmd(
        amount,
        lines,
        currency=currency,
        pay_mode=BANK if bank else TRANSFER,
        exchange_rate=None if currency == "CNY" else Decimal("7.1"),
    )
    return cmd, loans


PROPERTY_SETTINGS = settings(deadline=None)  # examples: the profile of tests/conftest.py


def net(postings: Iterable[Posting], kind: FlowKind | None = None) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        if kind is None or p.kind is kind:
            totals[p.account_id] += p.amount.minor
    return totals


@PROPERTY_SETTINGS
@given(valid_reimbursements())
def test_valid_reimbursement_plans_balance_and_write_off_exactly(
    case: tuple[ReimbursementCommand, dict[str, LoanView]],
) -> None:
    cmd, loans = case
    validate_reimbursement(cmd, applicant(), loans, False, LIMITS)
    event(f"W = 0: {cmd.write_off_total.minor == 0}, W = R: {real_amount(cmd).minor == 0}")

    plan = plan_business(cmd, loans, COMPANY)

    check_balanced(plan.postings)
    real = cmd.reimbursement_amount.minor - cmd.write_off_total.minor
    assert plan.paid_amount.minor == real >= 0
    assert sum(log.amount.minor for log in plan.write_off_logs) == cmd.write_off_total.minor
    assert net(plan.postings)[EMP] == real - cmd.write_off_total.minor
    assert net(plan.postings, FlowKind.REIMBURSEMENT).get(EMP, 0) == real
    assert net(plan.postings, FlowKind.WRITE_OFF).get(COMPANY, 0) == cmd.write_off_total.minor
    assert (plan.transfer_log is not None) == (real > 0)
    for update, line in zip(plan.loan_updates, cmd.write_offs, strict=True):
        before = loans[line.loan_bill_id].open_amount
        assert update.expected_open_amount == before
        assert update.open_amount == before - line.amount
        assert update.open_amount.minor >= 0
        assert (update.state is LoanState.WRITTEN_OFF) == (update.open_amount.minor == 0)
    if cmd.write_off_total.minor == 0:
        assert plan.write_off_logs == () and plan.loan_updates == ()
