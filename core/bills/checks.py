"""Acceptance checks of a bill (业务受理验证), in the seed's order; the first broken rule is raised.

Acceptance checks (业务受理验证), run in this order; the first broken rule is raised:
    pay mode is bank or transfer                       PAY_MODE_UNSUPPORTED
    bill code is 1-32 of A-Z a-z 0-9 - _                BILL_CODE_INVALID
    no other bill with this code is in process         BILL_IN_PROCESS (409)
    currency is supported                              CURRENCY_UNSUPPORTED
    bank mode pays only in CNY (the bank currencies)   NON_CNY_REQUIRES_TRANSFER
    non-CNY carries a sane rate; CNY none or 1         EXCHANGE_RATE_INVALID
    bank mode names payer and payee card numbers       CARD_NUMBER_REQUIRED
    bank mode pays from the bank's own account (the payer card is the account the bank
    channel pays from, `BillLimits.bank_payer_accounts`)
                                                       PAYER_CARD_NOT_BANK_ACCOUNT
    amounts positive (W >= 0), one currency            INVALID_AMOUNT, CURRENCY_MISMATCH
    the applicant exists                               APPLICANT_NOT_FOUND
    the applicant's account is normal; bank mode needs a registered card; a payee card or
    name given must be the registered one              APPLICANT_ACCOUNT_INVALID
  reimbursement only:
    R - W >= 0                                         REAL_AMOUNT_NEGATIVE
    bank mode needs R - W > 0                          BANK_MODE_NEEDS_POSITIVE_AMOUNT
    each linked loan exists, is the applicant's, in the bill's currency, named once
                                                       LINKED_LOAN_INVALID
    each linked loan's open amount >= its write-off    WRITE_OFF_EXCEEDS_OPEN_AMOUNT
    write-off lines sum to write_off_total             WRITE_OFF_SUM_MISMATCH
The seed's two rows "a foreign currency only by system transfer" and "bank mode only CNY" are
one condition (bank mode with a currency the bank cannot pay) seen from either side, so they
share one code; the fix is either to pay by transfer or to bill in CNY.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from core.bills.codes import Check, ValidationOutcome
from core.bills.model import (
    HOME_CURRENCY,
    ApplicantView,
    BillCommand,
    LoanCommand,
    LoanState,
    LoanView,
    PayMode,
    ReimbursementCommand,
    bill_amount,
    real_amount,
)
from core.bills.risk import BillLimits
from core.cards import compact_card_no
from core.errors import BusinessRuleViolation, Conflict, InvalidArgument
from core.flowlog import FlowNode
from core.ledger import AccountStatus
from core.money import Money, check_amounts

BILL_CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


def parse_pay_mode(raw: object) -> PayMode:
    if isinstance(raw, str):
        try:
            return PayMode(raw)
        except ValueError:
            pass
    raise InvalidArgument(
        f"pay mode {raw!r} is not supported; use {PayMode.BANK.value!r} (SPDB bank-enterprise) or "
        f"{PayMode.TRANSFER.value!r} (system transfer)",
        field="pay_mode",
        code="PAY_MODE_UNSUPPORTED",
    )


# -- acceptance checks ---------------------------------------------------------------------------


def validate_loan(
    cmd: LoanCommand, applicant: ApplicantView | None, in_process: bool, limits: BillLimits
) -> ValidationOutcome:
    """Run the seed's acceptance checks of a loan bill; raise on the first broken rule.

    `in_process` is True when another bill or request with this bill code is being (or has
    been) processed — never the bill under re-validation itself.
    """
    passed: list[Check] = []
    _check_common(cmd, [("amount", cmd.amount, False)], applicant, in_process, limits, passed)
    return ValidationOutcome(FlowNode.VALIDATED, tuple(passed))


def validate_reimbursement(
    cmd: ReimbursementCommand,
    applicant: ApplicantView | None,
    loans: Mapping[str, LoanView],
    in_process: bool,
    limits: BillLimits,
) -> ValidationOutcome:
    """Run the seed's acceptance checks of a reimbursement bill; raise on the first broken rule.

    `loans` maps loan bill id to the applicant's paid-out loans (at least those linked);
    `in_process` as for `validate_loan`.
    """
    passed: list[Check] = []
    mode = _check_common(cmd, _reimbursement_amounts(cmd), applicant, in_process, limits, passed)
    _check_real_amount(cmd)
    passed.append(Check.REAL_AMOUNT)
    if mode is PayMode.BANK and real_amount(cmd).minor <= 0:
        raise BusinessRuleViolation(
            f"the real amount R - W is {real_amount(cmd)}; the bank cannot pay nothing, so choose "
            "system transfer or write off less",
            field="pay_mode",
            code="BANK_MODE_NEEDS_POSITIVE_AMOUNT",
        )
    passed.append(Check.BANK_REAL_AMOUNT)
    _check_linked_loans(cmd, loans)
    passed.append(Check.LINKED_LOANS)
    _check_write_off_sum(cmd)
    passed.append(Check.WRITE_OFF_TOTAL)
    return ValidationOutcome(FlowNode.VALIDATED, tuple(passed))


def _check_common(
    cmd: BillCommand,
    amounts: list[tuple[str, Money, bool]],
    applicant: ApplicantView | None,
    in_process: bool,
    limits: BillLimits,
    passed: list[Check],
) -> PayMode:
    mode = parse_pay_mode(cmd.pay_mode)
    passed.append(Check.PAY_MODE)
    _check_bill_code(cmd.bill_code)
    passed.append(Check.BILL_CODE)
    _check_not_in_process(cmd.bill_code, in_process)
    passed.append(Check.NOT_IN_PROCESS)
    currency = bill_amount(cmd).currency
    if currency not in limits.supported_currencies:
        raise InvalidArgument(
            f"currency {currency} is not supported for bills; use one of "
            f"{', '.join(sorted(limits.supported_currencies))}",
            field="currency",
            code="CURRENCY_UNSUPPORTED",
        )
    passed.append(Check.CURRENCY)
    if mode is PayMode.BANK and currency not in limits.bank_currencies:
        raise BusinessRuleViolation(
            f"the bank pays only in {', '.join(sorted(limits.bank_currencies))}; pay this "
            f"{currency} bill by system transfer",
            field="pay_mode",
            code="NON_CNY_REQUIRES_TRANSFER",
        )
    passed.append(Check.PAY_MODE_CURRENCY)
    _check_exchange_rate(cmd.exchange_rate, currency, limits)
    passed.append(Check.EXCHANGE_RATE)
    _check_card_numbers(cmd, mode, limits.bank_payer_accounts)
    passed.append(Check.CARD_NUMBERS)
    check_amounts(amounts, currency, of="bill")
    passed.append(Check.AMOUNTS)
    existing = _existing_applicant(cmd, applicant)
    passed.append(Check.APPLICANT)
    _check_applicant_account(cmd, existing, mode)
    passed.append(Check.APPLICANT_ACCOUNT)
    return mode


def _check_not_in_process(bill_code: str, in_process: bool) -> None:
    if in_process:
        raise Conflict(
            f"bill {bill_code} is already being processed; follow that bill instead of submitting it again",
            field="bill_code",
            code="BILL_IN_PROCESS",
        )


def _check_card_numbers(cmd: BillCommand, mode: PayMode, bank_accounts: frozenset[str]) -> None:
    if mode is not PayMode.BANK:
        return
    for field, card_no in (("payer_card_no", cmd.payer_card_no), ("payee_card_no", cmd.payee_card_no)):
        if compact_card_no(card_no) is None:
            raise InvalidArgument(
                f"bank mode needs {field}: the bank pays from one card to another",
                field=field,
                code="CARD_NUMBER_REQUIRED",
            )
    # the bank pays from the account it is configured with, whatever a bill says: a bill naming
    # another payer card would be booked as paid from a card the money never left
    if bank_accounts and compact_card_no(cmd.payer_card_no) not in bank_accounts:
        raise BusinessRuleViolation(
            "the payer card must be the account the bank pays from (the configured SPDB account); "
            "name that account or leave payer_card_no out",
            field="payer_card_no",
            code="PAYER_CARD_NOT_BANK_ACCOUNT",
        )


def _existing_applicant(cmd: BillCommand, applicant: ApplicantView | None) -> ApplicantView:
    if applicant is None or applicant.account_id != cmd.applicant_account_id:
        raise BusinessRuleViolation(
            f"applicant account {cmd.applicant_account_id} does not exist; name a registered applicant",
            field="applicant_account",
            code="APPLICANT_NOT_FOUND",
        )
    return applicant


def _check_bill_code(code: object) -> None:
    if not isinstance(code, str) or BILL_CODE_PATTERN.fullmatch(code) is None:
        raise InvalidArgument(
            f"bill code {code!r} must be 1 to 32 letters, digits, '-' or '_'",
            field="bill_code",
            code="BILL_CODE_INVALID",
        )


def _check_exchange_rate(rate: Decimal | None, currency: str, limits: BillLimits) -> None:
    if currency == HOME_CURRENCY:
        if rate is None or (isinstance(rate, Decimal) and rate.is_finite() and rate == 1):
            return
        problem = f"a {HOME_CURRENCY} bill needs no exchange rate (or exactly 1), not {rate}"
    elif rate is None:
        problem = f"a {currency} bill needs the exchange rate to {HOME_CURRENCY}"
    elif not isinstance(rate, Decimal) or not rate.is_finite():
        problem = f"exchange rate {rate!r} is not a decimal number"
    elif not limits.min_exchange_rate <= rate <= limits.max_exchange_rate:
        problem = (
            f"exchange rate {rate} is outside {limits.min_exchange_rate}..{limits.max_exchange_rate}; "
            "check the rate entered"
        )
    elif _places(rate) > limits.exchange_rate_max_places:
        problem = f"exchange rate {rate} has more than {limits.exchange_rate_max_places} decimal places"
    else:
        return
    raise InvalidArgument(problem, field="exchange_rate", code="EXCHANGE_RATE_INVALID")


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _reimbursement_amounts(cmd: ReimbursementCommand) -> list[tuple[str, Money, bool]]:
    amounts = [
        ("reimbursement_amount", cmd.reimbursement_amount, False),
        ("write_off_total", cmd.write_off_total, True),
    ]
    amounts.extend((f"write_offs[{i}].amount", line.amount, False) for i, line in enumerate(cmd.write_offs))
    return amounts


def _check_applicant_account(cmd: BillCommand, applicant: ApplicantView, mode: PayMode) -> None:
    if applicant.status is not AccountStatus.NORMAL:
        raise BusinessRuleViolation(
            f"applicant account {applicant.account_id} is {applicant.status}; only a normal account "
            "can receive a bill's money",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )
    registered = compact_card_no(applicant.card_no)
    if mode is PayMode.BANK and registered is None:
        raise BusinessRuleViolation(
            f"applicant {applicant.account_id} has no registered bank card; register one or pay by "
            "system transfer",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )
    payee_card = compact_card_no(cmd.payee_card_no)
    if payee_card is not None and payee_card != registered:
        raise BusinessRuleViolation(
            "payee_card_no is not the applicant's registered bank card; pay to the registered card",
            field="payee_card_no",
            code="APPLICANT_ACCOUNT_INVALID",
        )
    holder = (applicant.card_name or applicant.name).strip()
    if cmd.payee_name is not None and cmd.payee_name.strip() and cmd.payee_name.strip() != holder:
        raise BusinessRuleViolation(
            "payee_name is not the holder of the applicant's registered bank card",
            field="payee_name",
            code="APPLICANT_ACCOUNT_INVALID",
        )


def _check_real_amount(cmd: ReimbursementCommand) -> None:
    if real_amount(cmd).minor < 0:
        raise BusinessRuleViolation(
            f"write_off_total {cmd.write_off_total} exceeds the reimbursement amount "
            f"{cmd.reimbursement_amount}; write off at most the amount reimbursed",
            field="write_off_total",
            code="REAL_AMOUNT_NEGATIVE",
        )


def _check_linked_loans(
    cmd: ReimbursementCommand, loans: Mapping[str, LoanView], *, reserved_here: bool = False
) -> None:
    """Each line's loan: the applicant's, open, in the bill's currency, with enough left. At
    acceptance "left" is open less what other accepted bills reserved; in business processing
    (`reserved_here`) the bill's own reservation is part of the reserved amount, so it is open."""
    currency = cmd.reimbursement_amount.currency
    seen: set[str] = set()
    for i, line in enumerate(cmd.write_offs):
        loan = loans.get(line.loan_bill_id)
        if line.loan_bill_id in seen:
            problem = "is named twice; give one line per loan"
        elif loan is None or loan.bill_id != line.loan_bill_id:
            problem = "does not exist"
        elif loan.applicant_account_id != cmd.applicant_account_id:
            problem = "belongs to another applicant"
        elif loan.currency != currency or loan.open_amount.currency != currency:
            problem = f"is in {loan.currency}, not the bill's {currency}"
        else:
            left = loan.open_amount if reserved_here else loan.unreserved_amount
            if loan.state is not LoanState.OPEN or left < line.amount:
                raise BusinessRuleViolation(
                    f"loan {line.loan_bill_id} has {left} left to write off, less than "
                    f"the {line.amount} written off here",
                    field=f"write_offs[{i}].amount",
                    code="WRITE_OFF_EXCEEDS_OPEN_AMOUNT",
                )
            seen.add(line.loan_bill_id)
            continue
        raise BusinessRuleViolation(
            f"linked loan {line.loan_bill_id} {problem}",
            field=f"write_offs[{i}].loan_bill_id",
            code="LINKED_LOAN_INVALID",
        )


def _check_write_off_sum(cmd: ReimbursementCommand) -> None:
    lines = _total((line.amount for line in cmd.write_offs), cmd.write_off_total.currency)
    if lines != cmd.write_off_total:
        raise InvalidArgument(
            f"write-off lines sum to {lines}, not write_off_total {cmd.write_off_total}",
            field="write_off_total",
            code="WRITE_OFF_SUM_MISMATCH",
        )


def _total(amounts: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


def recheck_for_business(bill: BillCommand, loans: Mapping[str, LoanView]) -> None:
    """The checks business processing repeats on current data: the amounts, and for a
    reimbursement R - W and the linked loans as they are now (a loan written off by another bill
    since acceptance fails business processing rather than going negative)."""
    if isinstance(bill, LoanCommand):
        check_amounts([("amount", bill.amount, False)], bill.amount.currency, of="bill")
        return
    check_amounts(_reimbursement_amounts(bill), bill.reimbursement_amount.currency, of="bill")
    _check_real_amount(bill)
    _check_linked_loans(bill, loans, reserved_here=True)
    _check_write_off_sum(bill)
