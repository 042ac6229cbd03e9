"""Specification of the bill acceptance checks (seed 002; core.bills.checks, core.bills.codes)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from bill_builders import (
    COMPANY_CARD,
    LIMITS,
    LOANS,
    TRANSFER,
    applicant,
    cny,
    expect,
    loan_cmd,
    reimb_cmd,
    usd,
)

from core.bills.checks import validate_loan, validate_reimbursement
from core.bills.codes import (
    CHECK_OF_CODE,
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
    ApplicantView,
    LoanCommand,
    ReimbursementCommand,
    WriteOffLine,
)
from core.errors import BusinessRuleViolation, Conflict, DomainError, InvalidArgument
from core.flowlog import FlowNode
from core.ledger import AccountStatus
from core.money import Money

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

# fmt: off
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
# fmt: on


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


# fmt: off
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
# fmt: on


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
        "BILL_IN_PROCESS",
        "bill_code",
        Conflict,
    )
    assert error.http_status == 409


def test_reimbursement_without_applicant_is_refused() -> None:
    expect(
        lambda: validate_reimbursement(reimb_cmd(), None, LOANS, False, LIMITS),
        "APPLICANT_NOT_FOUND",
        "applicant_account",
        BusinessRuleViolation,
    )


def test_the_first_broken_rule_in_check_order_is_reported() -> None:
    # Bank mode, a foreign currency, no cards and no applicant: the currency rule comes first.
    cmd = loan_cmd(usd(100), payer_card_no=None, payee_card_no=None)

    expect(
        lambda: validate_loan(cmd, None, False, LIMITS),
        "NON_CNY_REQUIRES_TRANSFER",
        "pay_mode",
        BusinessRuleViolation,
    )


def test_every_validation_and_risk_code_names_its_check() -> None:
    assert set(CHECK_OF_CODE) == VALIDATION_CODES | RISK_CODES
    assert set(CHECK_OF_CODE.values()) == set(REIMBURSEMENT_CHECKS) | set(LOAN_RISK_CHECKS) | set(
        REIMBURSEMENT_RISK_CHECKS
    )


def test_failed_check_is_none_for_foreign_errors() -> None:
    assert failed_check(InvalidArgument("x", code="SOMETHING_ELSE")) is None
    assert failed_check(BusinessRuleViolation("x", code="TOO_MANY_OPEN_LOANS")) is Check.OPEN_LOANS


BANK_ACCOUNT = "95200078800000001"  # the account the bank channel pays from


def test_a_bank_bill_paying_from_another_card_than_the_banks_account_is_refused() -> None:
    limits = replace(LIMITS, bank_payer_accounts=frozenset({BANK_ACCOUNT}))
    error = expect(
        lambda: validate_loan(loan_cmd(payer_card_no=COMPANY_CARD), applicant(), False, limits),
        "PAYER_CARD_NOT_BANK_ACCOUNT",
        "payer_card_no",
        BusinessRuleViolation,
    )
    assert "PAYER_CARD_NOT_BANK_ACCOUNT" in VALIDATION_CODES
    assert failed_check(error) is CHECK_OF_CODE["PAYER_CARD_NOT_BANK_ACCOUNT"]
    validate_loan(loan_cmd(payer_card_no="9520 0078 8000 0000 1"), applicant(), False, limits)
    validate_loan(loan_cmd(pay_mode=TRANSFER, payer_card_no=COMPANY_CARD), applicant(), False, limits)
