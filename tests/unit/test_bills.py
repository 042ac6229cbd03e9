"""Specification of loan and reimbursement bill rules (core.bills, seed 002)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from itertools import product

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.bills.actions import ACTION_OUTCOMES, ErrorAction, allowed_actions, check_action
from core.bills.checks import validate_loan, validate_reimbursement
from core.bills.codes import (
    CHECK_OF_CODE,
    ERROR_CODES,
    LOAN_CHECKS,
    LOAN_RISK_CHECKS,
    REIMBURSEMENT_CHECKS,
    REIMBURSEMENT_RISK_CHECKS,
    RISK_CODES,
    VALIDATION_CODES,
    Check,
    failed_check,
)
from core.bills.model import (
    BILL_STATES,
    ApplicantView,
    BillKind,
    BillStatus,
    LoanCommand,
    LoanState,
    LoanView,
    PayMode,
    ReimbursementCommand,
    WriteOffLine,
    bill_kind,
    move_bill,
    payout_amount,
    real_amount,
)
from core.bills.plan import LoanUpdate, TransferLog, WriteOffLog, plan_business
from core.bills.risk import BillLimits, risk_check_loan, risk_check_reimbursement
from core.errors import BusinessRuleViolation, Conflict, DomainError, IllegalTransition, InvalidArgument
from core.flowlog import FlowNode
from core.ledger import AccountStatus, FlowKind, Posting, check_balanced
from core.money import Money

BANK, TRANSFER = PayMode.BANK, PayMode.TRANSFER
S = BillStatus
A = ErrorAction
COMPANY = "company"
EMP = "emp1"
CARD = "6225880011112222"
COMPANY_CARD = "9550880000000001"


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


LIMITS = BillLimits(
    max_loan_amount={"CNY": Decimal("50000"), "USD": Decimal("8000")},
    max_reimbursement_amount={"CNY": Decimal("100000"), "USD": Decimal("15000")},
    max_open_loans=3,
    max_linked_loans=5,
    supported_currencies=frozenset({"CNY", "USD"}),
)


def applicant(**overrides: object) -> ApplicantView:
    base = ApplicantView(EMP, "Zhang San", AccountStatus.NORMAL, CARD, "Zhang San")
    return replace(base, **overrides)  # type: ignore[arg-type]


def loan_cmd(amount: Money | None = None, **overrides: object) -> LoanCommand:
    base = LoanCommand(
        bill_code="JK-2024_0001",
        applicant_account_id=EMP,
        amount=amount or cny(500_000),
        pay_mode=BANK,
        payer_card_no=COMPANY_CARD,
        payee_card_no=CARD,
        payee_name="Zhang San",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def reimb_cmd(
    amount: int = 300_000,
    lines: Iterable[tuple[str, int]] = (),
    total: int | None = None,
    currency: str = "CNY",
    **overrides: object,
) -> ReimbursementCommand:
    write_offs = tuple(WriteOffLine(loan_id, Money(minor, currency)) for loan_id, minor in lines)
    base = ReimbursementCommand(
        bill_code="BX-2024_0001",
        applicant_account_id=EMP,
        reimbursement_amount=Money(amount, currency),
        write_offs=write_offs,
        write_off_total=Money(sum(w.amount.minor for w in write_offs) if total is None else total, currency),
        pay_mode=BANK,
        payer_card_no=COMPANY_CARD,
        payee_card_no=CARD,
        payee_name="Zhang San",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def loan(
    bill_id: str,
    open_minor: int,
    amount: int | None = None,
    *,
    owner: str = EMP,
    currency: str = "CNY",
    state: LoanState = LoanState.OPEN,
) -> LoanView:
    total = Money(amount if amount is not None else open_minor, currency)
    return LoanView(bill_id, f"JK-{bill_id}", owner, currency, total, Money(open_minor, currency), state)


LOANS = {
    "L1": loan("L1", 60_000),
    "L2": loan("L2", 100_000, 150_000),
    "L3": loan("L3", 0, 80_000, state=LoanState.WRITTEN_OFF),
    "OTHER": loan("OTHER", 50_000, owner="emp2"),
    "USD1": loan("USD1", 50_000, currency="USD"),
}


def expect(fn: Callable[[], object], code: str, field: str | None, kind: type[DomainError]) -> DomainError:
    with pytest.raises(kind) as info:
        fn()
    assert info.value.code == code
    assert info.value.field == field
    assert code in ERROR_CODES
    return info.value


# -- acceptance checks: a valid bill passes and says what was checked ----------------------------


def test_valid_loan_passes_every_check_in_order() -> None:
    outcome = validate_loan(loan_cmd(), applicant(), False, LIMITS)

    assert outcome.node is FlowNode.VALIDATED
    assert outcome.checks == LOAN_CHECKS
    assert outcome.detail() == {"checks": [c.value for c in LOAN_CHECKS]}


def test_valid_reimbursement_passes_every_check_in_order() -> None:
    cmd = reimb_cmd(300_000, [("L1", 60_000), ("L2", 40_000)])

    outcome = validate_reimbursement(cmd, applicant(), LOANS, False, LIMITS)

    assert outcome.checks == REIMBURSEMENT_CHECKS


def test_transfer_mode_needs_no_card_numbers() -> None:
    cmd = loan_cmd(pay_mode=TRANSFER, payer_card_no=None, payee_card_no=None, payee_name=None)

    validate_loan(cmd, applicant(card_no=None, card_name=None), False, LIMITS)


def test_pay_mode_may_arrive_as_the_callers_string() -> None:
    validate_loan(loan_cmd(pay_mode="transfer"), applicant(), False, LIMITS)


def test_foreign_currency_by_transfer_with_a_sane_rate_passes() -> None:
    cmd = loan_cmd(usd(100_000), pay_mode=TRANSFER, exchange_rate=Decimal("7.1234"))

    validate_loan(cmd, applicant(), False, LIMITS)


@pytest.mark.parametrize("rate", [None, Decimal("1"), Decimal("1.0000")])
def test_cny_bill_takes_no_rate_or_exactly_one(rate: Decimal | None) -> None:
    validate_loan(loan_cmd(exchange_rate=rate), applicant(), False, LIMITS)


def test_card_numbers_compare_without_blanks() -> None:
    cmd = loan_cmd(payee_card_no="6225 8800 1111 2222")

    validate_loan(cmd, applicant(), False, LIMITS)


def test_payee_name_is_checked_against_the_applicant_when_the_card_has_no_holder_name() -> None:
    validate_loan(loan_cmd(payee_name="Zhang San"), applicant(card_name=None), False, LIMITS)


def test_reimbursement_writing_off_everything_is_fine_by_transfer() -> None:
    cmd = reimb_cmd(60_000, [("L1", 60_000)], pay_mode=TRANSFER)

    validate_reimbursement(cmd, applicant(), LOANS, False, LIMITS)


# -- acceptance checks: each rule broken on purpose ----------------------------------------------

LOAN_BREAKS: list[tuple[str, LoanCommand, ApplicantView | None, bool, str, str, type[DomainError]]] = [
    ("unknown pay mode", loan_cmd(pay_mode="alipay"), applicant(), False,
     "PAY_MODE_UNSUPPORTED", "pay_mode", InvalidArgument),
    ("empty bill code", loan_cmd(bill_code=""), applicant(), False,
     "BILL_CODE_INVALID", "bill_code", InvalidArgument),
    ("bill code too long", loan_cmd(bill_code="A" * 33), applicant(), False,
     "BILL_CODE_INVALID", "bill_code", InvalidArgument),
    ("bill code with a blank", loan_cmd(bill_code="JK 01"), applicant(), False,
     "BILL_CODE_INVALID", "bill_code", InvalidArgument),
    ("bill code with a newline", loan_cmd(bill_code="JK01\n"), applicant(), False,
     "BILL_CODE_INVALID", "bill_code", InvalidArgument),
    ("bill code not ascii", loan_cmd(bill_code="借款01"), applicant(), False,
     "BILL_CODE_INVALID", "bill_code", InvalidArgument),
    ("bill code in process", loan_cmd(), applicant(), True,
     "BILL_IN_PROCESS", "bill_code", Conflict),
    ("unsupported currency", loan_cmd(Money(100, "EUR"), pay_mode=TRANSFER), applicant(), False,
     "CURRENCY_UNSUPPORTED", "currency", InvalidArgument),
    ("foreign currency by bank", loan_cmd(usd(100), exchange_rate=Decimal("7.1")), applicant(), False,
     "NON_CNY_REQUIRES_TRANSFER", "pay_mode", BusinessRuleViolation),
    ("foreign currency without a rate", loan_cmd(usd(100), pay_mode=TRANSFER), applicant(), False,
     "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("rate zero", loan_cmd(usd(100), pay_mode=TRANSFER, exchange_rate=Decimal(0)), applicant(), False,
     "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("rate negative", loan_cmd(usd(100), pay_mode=TRANSFER, exchange_rate=Decimal("-7")), applicant(),
     False, "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("rate too large", loan_cmd(usd(100), pay_mode=TRANSFER, exchange_rate=Decimal("10000.01")),
     applicant(), False, "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("rate not a number", loan_cmd(usd(100), pay_mode=TRANSFER, exchange_rate=Decimal("NaN")),
     applicant(), False, "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("rate infinite", loan_cmd(usd(100), pay_mode=TRANSFER, exchange_rate=Decimal("Infinity")),
     applicant(), False, "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("rate too precise", loan_cmd(usd(100), pay_mode=TRANSFER, exchange_rate=Decimal("7.123456789")),
     applicant(), False, "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("CNY with a rate", loan_cmd(exchange_rate=Decimal("7.1")), applicant(), False,
     "EXCHANGE_RATE_INVALID", "exchange_rate", InvalidArgument),
    ("bank without payer card", loan_cmd(payer_card_no=None), applicant(), False,
     "CARD_NUMBER_REQUIRED", "payer_card_no", InvalidArgument),
    ("bank with a blank payer card", loan_cmd(payer_card_no="  "), applicant(), False,
     "CARD_NUMBER_REQUIRED", "payer_card_no", InvalidArgument),
    ("bank without payee card", loan_cmd(payee_card_no=None), applicant(), False,
     "CARD_NUMBER_REQUIRED", "payee_card_no", InvalidArgument),
    ("zero amount", loan_cmd(cny(0)), applicant(), False,
     "INVALID_AMOUNT", "amount", InvalidArgument),
    ("negative amount", loan_cmd(cny(-100)), applicant(), False,
     "INVALID_AMOUNT", "amount", InvalidArgument),
    ("no applicant", loan_cmd(), None, False,
     "APPLICANT_NOT_FOUND", "applicant_account", BusinessRuleViolation),
    ("someone else's record", loan_cmd(), applicant(account_id="emp2"), False,
     "APPLICANT_NOT_FOUND", "applicant_account", BusinessRuleViolation),
    ("frozen applicant", loan_cmd(), applicant(status=AccountStatus.FROZEN), False,
     "APPLICANT_ACCOUNT_INVALID", "applicant_account", BusinessRuleViolation),
    ("bank to an applicant without a card", loan_cmd(), applicant(card_no=None), False,
     "APPLICANT_ACCOUNT_INVALID", "applicant_account", BusinessRuleViolation),
    ("payee card not the registered one", loan_cmd(payee_card_no="6225880099990000"), applicant(),
     False, "APPLICANT_ACCOUNT_INVALID", "payee_card_no", BusinessRuleViolation),
    ("payee name not the card holder", loan_cmd(payee_name="Li Si"), applicant(), False,
     "APPLICANT_ACCOUNT_INVALID", "payee_name", BusinessRuleViolation),
    ("transfer to a card that is not registered", loan_cmd(pay_mode=TRANSFER, payee_card_no="62250000"),
     applicant(card_no=None), False, "APPLICANT_ACCOUNT_INVALID", "payee_card_no", BusinessRuleViolation),
]


@pytest.mark.parametrize(
    ("cmd", "who", "in_process", "code", "field", "kind"),
    [case[1:] for case in LOAN_BREAKS],
    ids=[case[0] for case in LOAN_BREAKS],
)
def test_loan_validation_refuses(
    cmd: LoanCommand,
    who: ApplicantView | None,
    in_process: bool,
    code: str,
    field: str,
    kind: type[DomainError],
) -> None:
    error = expect(lambda: validate_loan(cmd, who, in_process, LIMITS), code, field, kind)

    assert code in VALIDATION_CODES
    assert failed_check(error) is CHECK_OF_CODE[code]


REIMBURSEMENT_BREAKS: list[tuple[str, ReimbursementCommand, str, str, type[DomainError]]] = [
    ("unknown pay mode", reimb_cmd(pay_mode="cash"), "PAY_MODE_UNSUPPORTED", "pay_mode", InvalidArgument),
    ("bad bill code", reimb_cmd(bill_code="BX/1"), "BILL_CODE_INVALID", "bill_code", InvalidArgument),
    ("bank without payee card", reimb_cmd(payee_card_no=""), "CARD_NUMBER_REQUIRED", "payee_card_no",
     InvalidArgument),
    ("foreign currency by bank", reimb_cmd(currency="USD", exchange_rate=Decimal("7")),
     "NON_CNY_REQUIRES_TRANSFER", "pay_mode", BusinessRuleViolation),
    ("zero reimbursement", reimb_cmd(0), "INVALID_AMOUNT", "reimbursement_amount", InvalidArgument),
    ("negative write-off total", reimb_cmd(total=-1), "INVALID_AMOUNT", "write_off_total", InvalidArgument),
    ("zero write-off line", reimb_cmd(lines=[("L1", 0)]), "INVALID_AMOUNT", "write_offs[0].amount",
     InvalidArgument),
    ("write-off line in another currency",
     replace(reimb_cmd(lines=[("L1", 100)]), write_offs=(WriteOffLine("L1", usd(100)),)),
     "CURRENCY_MISMATCH", "write_offs[0].amount", InvalidArgument),
    ("write-off above the reimbursement", reimb_cmd(50_000, [("L1", 60_000)], pay_mode=TRANSFER),
     "REAL_AMOUNT_NEGATIVE", "write_off_total", BusinessRuleViolation),
    ("bank with nothing left to pay", reimb_cmd(60_000, [("L1", 60_000)]),
     "BANK_MODE_NEEDS_POSITIVE_AMOUNT", "pay_mode", BusinessRuleViolation),
    ("unknown loan", reimb_cmd(lines=[("L1", 100), ("NOPE", 100)]),
     "LINKED_LOAN_INVALID", "write_offs[1].loan_bill_id", BusinessRuleViolation),
    ("another applicant's loan", reimb_cmd(lines=[("OTHER", 100)]),
     "LINKED_LOAN_INVALID", "write_offs[0].loan_bill_id", BusinessRuleViolation),
    ("loan in another currency", reimb_cmd(lines=[("USD1", 100)]),
     "LINKED_LOAN_INVALID", "write_offs[0].loan_bill_id", BusinessRuleViolation),
    ("loan named twice", reimb_cmd(lines=[("L2", 100), ("L2", 100)]),
     "LINKED_LOAN_INVALID", "write_offs[1].loan_bill_id", BusinessRuleViolation),
    ("write-off above the loan's open amount", reimb_cmd(lines=[("L2", 100_001)]),
     "WRITE_OFF_EXCEEDS_OPEN_AMOUNT", "write_offs[0].amount", BusinessRuleViolation),
    ("write-off of a written-off loan", reimb_cmd(lines=[("L3", 100)]),
     "WRITE_OFF_EXCEEDS_OPEN_AMOUNT", "write_offs[0].amount", BusinessRuleViolation),
    ("lines short of the total", reimb_cmd(lines=[("L1", 100)], total=200),
     "WRITE_OFF_SUM_MISMATCH", "write_off_total", InvalidArgument),
    ("lines with a zero total", reimb_cmd(lines=[("L1", 100)], total=0),
     "WRITE_OFF_SUM_MISMATCH", "write_off_total", InvalidArgument),
    ("a total without lines", reimb_cmd(total=100), "WRITE_OFF_SUM_MISMATCH", "write_off_total",
     InvalidArgument),
]


@pytest.mark.parametrize(
    ("cmd", "code", "field", "kind"),
    [case[1:] for case in REIMBURSEMENT_BREAKS],
    ids=[case[0] for case in REIMBURSEMENT_BREAKS],
)
def test_reimbursement_validation_refuses(
    cmd: ReimbursementCommand, code: str, field: str, kind: type[DomainError]
) -> None:
    expect(lambda: validate_reimbursement(cmd, applicant(), LOANS, False, LIMITS), code, field, kind)


def test_reimbursement_in_process_is_a_conflict() -> None:
    error = expect(
        lambda: validate_reimbursement(reimb_cmd(), applicant(), LOANS, True, LIMITS),
        "BILL_IN_PROCESS", "bill_code", Conflict,
    )
    assert error.http_status == 409


def test_reimbursement_without_applicant_is_refused() -> None:
    expect(
        lambda: validate_reimbursement(reimb_cmd(), None, LOANS, False, LIMITS),
        "APPLICANT_NOT_FOUND", "applicant_account", BusinessRuleViolation,
    )


def test_the_first_broken_rule_in_check_order_is_reported() -> None:
    # Bank mode, a foreign currency, no cards and no applicant: the currency rule comes first.
    cmd = loan_cmd(usd(100), payer_card_no=None, payee_card_no=None)

    expect(lambda: validate_loan(cmd, None, False, LIMITS), "NON_CNY_REQUIRES_TRANSFER", "pay_mode",
           BusinessRuleViolation)


def test_every_validation_and_risk_code_names_its_check() -> None:
    assert set(CHECK_OF_CODE) == VALIDATION_CODES | RISK_CODES
    assert set(CHECK_OF_CODE.values()) == set(REIMBURSEMENT_CHECKS) | set(LOAN_RISK_CHECKS) | set(
        REIMBURSEMENT_RISK_CHECKS
    )


def test_failed_check_is_none_for_foreign_errors() -> None:
    assert failed_check(InvalidArgument("x", code="SOMETHING_ELSE")) is None
    assert failed_check(BusinessRuleViolation("x", code="TOO_MANY_OPEN_LOANS")) is Check.OPEN_LOANS


# -- risk controls --------------------------------------------------------------------------------


def test_loan_at_the_limit_with_room_for_one_more_open_loan_passes() -> None:
    outcome = risk_check_loan(loan_cmd(cny(5_000_000)), 2, LIMITS)

    assert outcome.node is FlowNode.RISK_CHECKED
    assert outcome.checks == LOAN_RISK_CHECKS


def test_loan_over_the_single_bill_limit_is_refused() -> None:
    expect(lambda: risk_check_loan(loan_cmd(cny(5_000_001)), 0, LIMITS),
           "SINGLE_BILL_LIMIT_EXCEEDED", "amount", BusinessRuleViolation)


def test_loan_limit_is_per_currency() -> None:
    risk_check_loan(loan_cmd(usd(800_000)), 0, LIMITS)
    expect(lambda: risk_check_loan(loan_cmd(usd(800_001)), 0, LIMITS),
           "SINGLE_BILL_LIMIT_EXCEEDED", "amount", BusinessRuleViolation)


def test_a_currency_without_a_limit_fails_closed() -> None:
    expect(lambda: risk_check_loan(loan_cmd(Money(1, "JPY")), 0, LIMITS),
           "SINGLE_BILL_LIMIT_EXCEEDED", "amount", BusinessRuleViolation)


def test_applicant_holding_max_open_loans_gets_no_new_loan() -> None:
    # 以上 counts the number itself: holding 3 with a maximum of 3 refuses the 4th.
    expect(lambda: risk_check_loan(loan_cmd(), 3, LIMITS),
           "TOO_MANY_OPEN_LOANS", "applicant_account", BusinessRuleViolation)


def test_reimbursement_within_limits_passes() -> None:
    lines = [(f"L{i}", 1) for i in range(5)]

    outcome = risk_check_reimbursement(reimb_cmd(10_000_000, lines), LIMITS)

    assert outcome.checks == REIMBURSEMENT_RISK_CHECKS


def test_reimbursement_over_the_single_bill_limit_is_refused() -> None:
    expect(lambda: risk_check_reimbursement(reimb_cmd(10_000_001), LIMITS),
           "SINGLE_BILL_LIMIT_EXCEEDED", "reimbursement_amount", BusinessRuleViolation)


def test_reimbursement_linking_too_many_loans_is_refused() -> None:
    lines = [(f"L{i}", 1) for i in range(6)]

    expect(lambda: risk_check_reimbursement(reimb_cmd(100_000, lines), LIMITS),
           "TOO_MANY_LINKED_LOANS", "write_offs", BusinessRuleViolation)


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_loan_amount": {"CNY": Decimal(1)}},
        {"max_reimbursement_amount": {"CNY": Decimal(1), "USD": Decimal(0)}},
        {"supported_currencies": frozenset({"CNY", "XXX"})},
        {"bank_currencies": frozenset({"GBP"})},
        {"max_open_loans": 0},
        {"max_linked_loans": -1},
        {"min_exchange_rate": Decimal(0)},
        {"min_exchange_rate": Decimal(5), "max_exchange_rate": Decimal(4)},
    ],
)
def test_limits_refuse_settings_that_leave_a_currency_unchecked(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="invalid bill limits"):
        replace(LIMITS, **overrides)  # type: ignore[arg-type]


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

    expect(lambda: plan_business(cmd, now, COMPANY),
           "WRITE_OFF_EXCEEDS_OPEN_AMOUNT", "write_offs[0].amount", BusinessRuleViolation)


def test_business_refuses_the_company_as_applicant() -> None:
    expect(lambda: plan_business(loan_cmd(applicant_account_id=COMPANY), LOANS, COMPANY),
           "APPLICANT_ACCOUNT_INVALID", "applicant_account", BusinessRuleViolation)


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


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


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


# -- life of a bill -------------------------------------------------------------------------------


def walk(mode: PayMode, *path: BillStatus) -> None:
    for current, target in zip(path, path[1:], strict=False):
        move_bill(current, target, mode)


def test_bank_bill_goes_from_received_to_completed() -> None:
    walk(BANK, S.RECEIVED, S.ACCEPTED, S.BANK_SUBMITTED, S.BANK_PROCESSING, S.BANK_PROCESSING,
         S.BANK_UNKNOWN, S.BANK_SUCCEEDED, S.COMPLETED)


def test_transfer_bill_goes_from_received_to_completed() -> None:
    walk(TRANSFER, S.RECEIVED, S.ACCEPTED, S.TRANSFER_PENDING, S.BUSINESS_FAILED, S.BUSINESS_FAILED,
         S.COMPLETED)


def test_rejected_bank_payment_is_resent_or_switched_to_transfer() -> None:
    walk(BANK, S.BANK_SUBMITTED, S.BANK_FAILED, S.BANK_SUBMITTED, S.BANK_FAILED)
    move_bill(S.BANK_FAILED, S.TRANSFER_PENDING, TRANSFER)


def test_failed_checks_can_be_rerun_until_accepted() -> None:
    walk(BANK, S.RECEIVED, S.VALIDATION_FAILED, S.VALIDATION_FAILED, S.RISK_REJECTED, S.RISK_REJECTED,
         S.VALIDATION_FAILED, S.ACCEPTED)


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
        S.BANK_SUBMITTED, S.BANK_PROCESSING, S.BANK_UNKNOWN, S.BANK_SUCCEEDED, S.BANK_FAILED
    }


def test_business_runs_only_after_the_money_side_is_settled() -> None:
    assert predecessors(S.COMPLETED) == {S.BANK_SUCCEEDED, S.TRANSFER_PENDING, S.BUSINESS_FAILED}
    assert predecessors(S.BUSINESS_FAILED) == {S.BANK_SUCCEEDED, S.TRANSFER_PENDING, S.BUSINESS_FAILED}


# -- error handling (差错处理) ---------------------------------------------------------------------

EXPECTED_ALLOWED: dict[ErrorAction, set[tuple[BillStatus, PayMode]]] = {
    A.REVALIDATE: {(S.VALIDATION_FAILED, BANK), (S.VALIDATION_FAILED, TRANSFER),
                   (S.RISK_REJECTED, BANK), (S.RISK_REJECTED, TRANSFER)},
    A.RESEND_BANK: {(S.BANK_FAILED, BANK)},
    A.REQUERY_BANK: {(S.BANK_SUBMITTED, BANK), (S.BANK_PROCESSING, BANK), (S.BANK_UNKNOWN, BANK)},
    A.RERUN_BUSINESS: {(S.TRANSFER_PENDING, TRANSFER), (S.BANK_SUCCEEDED, BANK),
                       (S.BUSINESS_FAILED, BANK), (S.BUSINESS_FAILED, TRANSFER)},
    A.SWITCH_TO_TRANSFER: {(S.BANK_FAILED, BANK)},
}
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
