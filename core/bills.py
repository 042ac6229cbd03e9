"""Pure rules of loan and reimbursement bills (seed 002): checks, risk controls, business plan, life.

A loan bill (借款单) pays the applicant the loan amount; a reimbursement bill (报销单) pays the
reimbursement amount R less the write-off W (核销金额) that repays the applicant's open loans,
so the real amount (实际报销交易金额) is R - W, and 0 <= W <= R. Either bill is paid by the bank
(SPDB bank-enterprise, company card -> applicant's card) or by system transfer (finance pays
outside the platform). In both modes the platform books the same ledger flows.

Acceptance checks (业务受理验证), run in this order; the first broken rule is raised:
    pay mode is bank or transfer                       PAY_MODE_UNSUPPORTED
    bill code is 1-32 of A-Z a-z 0-9 - _                BILL_CODE_INVALID
    no other bill with this code is in process         BILL_IN_PROCESS (409)
    currency is supported                              CURRENCY_UNSUPPORTED
    bank mode pays only in CNY (the bank currencies)   NON_CNY_REQUIRES_TRANSFER
    non-CNY carries a sane rate; CNY none or 1         EXCHANGE_RATE_INVALID
    bank mode names payer and payee card numbers       CARD_NUMBER_REQUIRED
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

Risk controls (业务风控验证, limits from settings, all 422):
    single bill amount <= the currency's limit         SINGLE_BILL_LIMIT_EXCEEDED
    loan: applicant has fewer than max_open_loans open loans
                                                       TOO_MANY_OPEN_LOANS
    reimbursement: at most max_linked_loans lines      TOO_MANY_LINKED_LOANS
"xx笔以上借款未还款, 不可再借款": 以上 counts the number itself, so an applicant holding
max_open_loans open loans is refused; max_open_loans is the most open loans anyone holds.

Business processing (业务处理) is one database transaction, planned by `plan_business`:
    loan:           company -> applicant, amount (LOAN); transfer log; a new open loan.
    reimbursement:  R - W > 0: company -> applicant, R - W (REIMBURSEMENT), transfer log;
                    W > 0: applicant -> company, W (WRITE_OFF), a write-off log line and a
                    loan update (open amount less the line, WRITTEN_OFF at 0) per linked loan.
    W = 0 writes no write-off flow, log or loan change; W = R writes only the write-off flow.
The seed names only the applicant's write-off out-flow (核销转出流水); its counter-leg credits
the company, which lent the money: the write-off repays the loan. So an applicant's account
holds their open loans plus the real amounts paid to them, and the company's the negative of
that; the bank statement, not the ledger, shows the loan money spent on the reimbursed expenses.
Loan updates carry the open amount they were planned from, so storage applies them with a
conditional update and a concurrent write-off of the same loan fails instead of overdrawing it.

Life of a bill (`BILL_STATES`): received -> accepted | validation_failed | risk_rejected;
accepted -> bank_submitted (bank) | transfer_pending (transfer); bank_submitted -> bank
processing / unknown / succeeded / failed; bank_succeeded or transfer_pending -> completed |
business_failed -> completed. Only a definite bank rejection is bank_failed; a timeout or an
unverifiable answer is bank_unknown, resolved by query, never by a timer or a re-send.
Error handling (差错处理, `check_action`), each refused with ACTION_PRECONDITION_FAILED (409):
    REVALIDATE          validation or risk check failed
    RESEND_BANK         bank mode, bank result failed (the gateway issues a new packet_id)
    REQUERY_BANK        bank mode, bank submitted / processing / unknown
    RERUN_BUSINESS      transfer mode or bank succeeded, and business failed or not completed
    SWITCH_TO_TRANSFER  bank mode, bank result failed (never after a bank success)
No action leads to a second payment: the bank is asked to pay again only after a definite
rejection, business runs only from a state that has not completed it, and a bill never
leaves the bank path once the bank succeeded.

Glossary (seed term -> name here):
    借款单 / 报销单                     -> BillKind.LOAN / REIMBURSEMENT, LoanCommand / ReimbursementCommand
    报销金额 / 借款金额                 -> ReimbursementCommand.reimbursement_amount / LoanCommand.amount
    核销金额, 核销记录明细              -> write_off_total, WriteOffLine
    实际报销交易金额                    -> real_amount(), BusinessPlan.paid_amount
    待核销金额 (借款单 borrowing_bill)  -> LoanView.open_amount
    支付方式 pay_type: 银企 / 系统转账  -> PayMode.BANK / TRANSFER
    申请人 / 申请人账号                 -> ApplicantView, applicant_account
    支付方 / 接收方银行卡号             -> payer_card_no / payee_card_no
    汇率                                -> exchange_rate (CNY per unit of the bill's currency)
    转入 / 转出流水, 核销转出流水       -> BusinessPlan.postings (LOAN, REIMBURSEMENT, WRITE_OFF)
    转账日志 / 核销日志                 -> TransferLog / WriteOffLog
    银企包 packet_id                    -> bank packet id, renewed by RESEND_BANK
    差错处理                            -> ErrorAction, check_action
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.errors import BusinessRuleViolation, Conflict, DomainError, IllegalTransition, InvalidArgument
from core.flowlog import FlowNode
from core.ledger import AccountStatus, FlowKind, Posting, check_balanced, transfer
from core.money import CURRENCY_EXPONENTS, Money
from core.state import StateMachine

HOME_CURRENCY = "CNY"
BILL_CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")

VALIDATION_CODES: frozenset[str] = frozenset(
    {
        "PAY_MODE_UNSUPPORTED",
        "BILL_CODE_INVALID",
        "BILL_IN_PROCESS",
        "CURRENCY_UNSUPPORTED",
        "NON_CNY_REQUIRES_TRANSFER",
        "EXCHANGE_RATE_INVALID",
        "CARD_NUMBER_REQUIRED",
        "INVALID_AMOUNT",
        "CURRENCY_MISMATCH",
        "APPLICANT_NOT_FOUND",
        "APPLICANT_ACCOUNT_INVALID",
        "REAL_AMOUNT_NEGATIVE",
        "BANK_MODE_NEEDS_POSITIVE_AMOUNT",
        "LINKED_LOAN_INVALID",
        "WRITE_OFF_EXCEEDS_OPEN_AMOUNT",
        "WRITE_OFF_SUM_MISMATCH",
    }
)
RISK_CODES: frozenset[str] = frozenset(
    {"SINGLE_BILL_LIMIT_EXCEEDED", "TOO_MANY_OPEN_LOANS", "TOO_MANY_LINKED_LOANS"}
)
ACTION_PRECONDITION_FAILED = "ACTION_PRECONDITION_FAILED"
# Every code this module raises, besides ILLEGAL_TRANSITION from core.state.
ERROR_CODES: frozenset[str] = VALIDATION_CODES | RISK_CODES | {ACTION_PRECONDITION_FAILED}


class PayMode(enum.StrEnum):
    BANK = "bank"  # 银企支付: the company's SPDB account pays the applicant's card
    TRANSFER = "transfer"  # 系统转账: finance pays outside the platform; only the ledger moves


class BillKind(enum.StrEnum):
    LOAN = "loan"
    REIMBURSEMENT = "reimbursement"


class LoanState(enum.StrEnum):
    OPEN = "open"  # part of the loan is still to be written off
    WRITTEN_OFF = "written_off"  # fully repaid by reimbursements


class Check(enum.StrEnum):
    """A named check, so the flow log can say what was checked and which check failed."""

    PAY_MODE = "pay_mode"
    BILL_CODE = "bill_code"
    NOT_IN_PROCESS = "bill_not_in_process"
    CURRENCY = "currency"
    PAY_MODE_CURRENCY = "pay_mode_currency"
    EXCHANGE_RATE = "exchange_rate"
    CARD_NUMBERS = "card_numbers"
    AMOUNTS = "amounts"
    APPLICANT = "applicant"
    APPLICANT_ACCOUNT = "applicant_account"
    REAL_AMOUNT = "real_amount"
    BANK_REAL_AMOUNT = "bank_real_amount"
    LINKED_LOANS = "linked_loans"
    WRITE_OFF_TOTAL = "write_off_total"
    SINGLE_BILL_LIMIT = "single_bill_limit"
    OPEN_LOANS = "open_loans"
    LINKED_LOAN_COUNT = "linked_loan_count"


LOAN_CHECKS: tuple[Check, ...] = (
    Check.PAY_MODE,
    Check.BILL_CODE,
    Check.NOT_IN_PROCESS,
    Check.CURRENCY,
    Check.PAY_MODE_CURRENCY,
    Check.EXCHANGE_RATE,
    Check.CARD_NUMBERS,
    Check.AMOUNTS,
    Check.APPLICANT,
    Check.APPLICANT_ACCOUNT,
)
REIMBURSEMENT_CHECKS: tuple[Check, ...] = (
    *LOAN_CHECKS,
    Check.REAL_AMOUNT,
    Check.BANK_REAL_AMOUNT,
    Check.LINKED_LOANS,
    Check.WRITE_OFF_TOTAL,
)
LOAN_RISK_CHECKS: tuple[Check, ...] = (Check.SINGLE_BILL_LIMIT, Check.OPEN_LOANS)
REIMBURSEMENT_RISK_CHECKS: tuple[Check, ...] = (Check.SINGLE_BILL_LIMIT, Check.LINKED_LOAN_COUNT)

# Which check raises which code, for the flow log of a failure.
CHECK_OF_CODE: Mapping[str, Check] = {
    "PAY_MODE_UNSUPPORTED": Check.PAY_MODE,
    "BILL_CODE_INVALID": Check.BILL_CODE,
    "BILL_IN_PROCESS": Check.NOT_IN_PROCESS,
    "CURRENCY_UNSUPPORTED": Check.CURRENCY,
    "NON_CNY_REQUIRES_TRANSFER": Check.PAY_MODE_CURRENCY,
    "EXCHANGE_RATE_INVALID": Check.EXCHANGE_RATE,
    "CARD_NUMBER_REQUIRED": Check.CARD_NUMBERS,
    "INVALID_AMOUNT": Check.AMOUNTS,
    "CURRENCY_MISMATCH": Check.AMOUNTS,
    "APPLICANT_NOT_FOUND": Check.APPLICANT,
    "APPLICANT_ACCOUNT_INVALID": Check.APPLICANT_ACCOUNT,
    "REAL_AMOUNT_NEGATIVE": Check.REAL_AMOUNT,
    "BANK_MODE_NEEDS_POSITIVE_AMOUNT": Check.BANK_REAL_AMOUNT,
    "LINKED_LOAN_INVALID": Check.LINKED_LOANS,
    "WRITE_OFF_EXCEEDS_OPEN_AMOUNT": Check.LINKED_LOANS,
    "WRITE_OFF_SUM_MISMATCH": Check.WRITE_OFF_TOTAL,
    "SINGLE_BILL_LIMIT_EXCEEDED": Check.SINGLE_BILL_LIMIT,
    "TOO_MANY_OPEN_LOANS": Check.OPEN_LOANS,
    "TOO_MANY_LINKED_LOANS": Check.LINKED_LOAN_COUNT,
}


def failed_check(error: DomainError) -> Check | None:
    """The check a validation or risk error came from (None for errors of other origin)."""
    return CHECK_OF_CODE.get(error.code)


# -- inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplicantView:
    """The applicant's platform virtual account (a C account) and registered bank card."""

    account_id: str
    name: str
    status: AccountStatus
    card_no: str | None = None
    card_name: str | None = None  # the card holder's name; the applicant's name when None


@dataclass(frozen=True, slots=True)
class LoanView:
    """A paid-out loan bill (borrowing_bill) and how much of it is still to be written off."""

    bill_id: str
    bill_code: str
    applicant_account_id: str
    currency: str
    amount: Money
    open_amount: Money
    state: LoanState


@dataclass(frozen=True, slots=True)
class WriteOffLine:
    loan_bill_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LoanCommand:
    """A loan bill as requested; `pay_mode` is the caller's string until validated."""

    bill_code: str
    applicant_account_id: str
    amount: Money
    pay_mode: PayMode | str
    exchange_rate: Decimal | None = None
    payer_card_no: str | None = None
    payee_card_no: str | None = None
    payee_name: str | None = None


@dataclass(frozen=True, slots=True)
class ReimbursementCommand:
    """A reimbursement bill: R = reimbursement_amount, W = write_off_total over `write_offs`."""

    bill_code: str
    applicant_account_id: str
    reimbursement_amount: Money
    write_offs: tuple[WriteOffLine, ...]
    write_off_total: Money
    pay_mode: PayMode | str
    exchange_rate: Decimal | None = None
    payer_card_no: str | None = None
    payee_card_no: str | None = None
    payee_name: str | None = None


BillCommand = LoanCommand | ReimbursementCommand


@dataclass(frozen=True, slots=True)
class BillLimits:
    """Validation and risk settings; limits are per currency, in major units, inclusive."""

    max_loan_amount: Mapping[str, Decimal]
    max_reimbursement_amount: Mapping[str, Decimal]
    max_open_loans: int
    max_linked_loans: int
    supported_currencies: frozenset[str] = frozenset({HOME_CURRENCY})
    bank_currencies: frozenset[str] = frozenset({HOME_CURRENCY})
    min_exchange_rate: Decimal = Decimal("0.0001")
    max_exchange_rate: Decimal = Decimal("10000")
    exchange_rate_max_places: int = 8

    def __post_init__(self) -> None:
        """Refuse settings that would leave a supported currency unchecked."""
        problems: list[str] = []
        unknown = self.supported_currencies - CURRENCY_EXPONENTS.keys()
        if unknown:
            problems.append(f"supported_currencies {sorted(unknown)} are not known currencies")
        if not self.bank_currencies <= self.supported_currencies:
            problems.append("bank_currencies must be supported currencies")
        for name, limits in (
            ("max_loan_amount", self.max_loan_amount),
            ("max_reimbursement_amount", self.max_reimbursement_amount),
        ):
            missing = self.supported_currencies - limits.keys()
            if missing:
                problems.append(f"{name} has no limit for {sorted(missing)}")
            if any(not limit.is_finite() or limit <= 0 for limit in limits.values()):
                problems.append(f"{name} limits must be positive")
        if self.max_open_loans < 1 or self.max_linked_loans < 0:
            problems.append("max_open_loans must be >= 1 and max_linked_loans >= 0")
        if not Decimal(0) < self.min_exchange_rate <= self.max_exchange_rate:
            problems.append("exchange rate bounds must satisfy 0 < min <= max")
        if self.exchange_rate_max_places < 0:
            problems.append("exchange_rate_max_places must be >= 0")
        if problems:
            raise ValueError("invalid bill limits: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    """What a passed acceptance or risk check covered, for the flow log (pay_life_log)."""

    node: FlowNode
    checks: tuple[Check, ...]

    def detail(self) -> dict[str, list[str]]:
        return {"checks": [check.value for check in self.checks]}


# -- helpers on commands -------------------------------------------------------------------------


def bill_kind(bill: BillCommand) -> BillKind:
    return BillKind.LOAN if isinstance(bill, LoanCommand) else BillKind.REIMBURSEMENT


def bill_amount(bill: BillCommand) -> Money:
    """The amount the bill is for: the loan amount or the reimbursement amount R."""
    return bill.amount if isinstance(bill, LoanCommand) else bill.reimbursement_amount


def real_amount(cmd: ReimbursementCommand) -> Money:
    """实际报销交易金额: R - W."""
    return cmd.reimbursement_amount - cmd.write_off_total


def payout_amount(bill: BillCommand) -> Money:
    """What reaches the applicant (the bank's 转账金额): the loan amount, or R - W."""
    return bill.amount if isinstance(bill, LoanCommand) else real_amount(bill)


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
    if in_process:
        raise Conflict(
            f"bill {cmd.bill_code} is already being processed; follow that bill instead of "
            "submitting it again",
            field="bill_code",
            code="BILL_IN_PROCESS",
        )
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
    if mode is PayMode.BANK:
        for field, card_no in (("payer_card_no", cmd.payer_card_no), ("payee_card_no", cmd.payee_card_no)):
            if _card(card_no) is None:
                raise InvalidArgument(
                    f"bank mode needs {field}: the bank pays from one card to another",
                    field=field,
                    code="CARD_NUMBER_REQUIRED",
                )
    passed.append(Check.CARD_NUMBERS)
    _check_amounts(amounts, currency)
    passed.append(Check.AMOUNTS)
    if applicant is None or applicant.account_id != cmd.applicant_account_id:
        raise BusinessRuleViolation(
            f"applicant account {cmd.applicant_account_id} does not exist; name a registered applicant",
            field="applicant_account",
            code="APPLICANT_NOT_FOUND",
        )
    passed.append(Check.APPLICANT)
    _check_applicant_account(cmd, applicant, mode)
    passed.append(Check.APPLICANT_ACCOUNT)
    return mode


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


def _card(card_no: str | None) -> str | None:
    """A card number without blanks; None when missing or blank."""
    if card_no is None:
        return None
    compact = "".join(card_no.split())
    return compact or None


def _check_amounts(amounts: list[tuple[str, Money, bool]], currency: str) -> None:
    for field, money, _ in amounts:
        if money.currency != currency:
            raise InvalidArgument(
                f"{field} is in {money.currency}; give every amount in the bill's {currency}",
                field=field,
                code="CURRENCY_MISMATCH",
            )
    for field, money, zero_allowed in amounts:
        if money.minor < 0 or (money.minor == 0 and not zero_allowed):
            bound = "zero or more" if zero_allowed else "greater than zero"
            raise InvalidArgument(
                f"{field} is {money}; it must be {bound}", field=field, code="INVALID_AMOUNT"
            )


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
    registered = _card(applicant.card_no)
    if mode is PayMode.BANK and registered is None:
        raise BusinessRuleViolation(
            f"applicant {applicant.account_id} has no registered bank card; register one or pay by "
            "system transfer",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )
    payee_card = _card(cmd.payee_card_no)
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


def _check_linked_loans(cmd: ReimbursementCommand, loans: Mapping[str, LoanView]) -> None:
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
            if loan.state is not LoanState.OPEN or loan.open_amount < line.amount:
                raise BusinessRuleViolation(
                    f"loan {line.loan_bill_id} has {loan.open_amount} left to write off, less than "
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


# -- risk controls -------------------------------------------------------------------------------


def risk_check_loan(cmd: LoanCommand, open_loans_count: int, limits: BillLimits) -> ValidationOutcome:
    """Single-loan limit, and no new loan while the applicant holds max_open_loans open loans."""
    _check_single_limit(cmd.amount, limits.max_loan_amount, "amount", "loan")
    if open_loans_count >= limits.max_open_loans:
        raise BusinessRuleViolation(
            f"the applicant has {open_loans_count} open loans; a new loan needs fewer than "
            f"{limits.max_open_loans}, so write some off first",
            field="applicant_account",
            code="TOO_MANY_OPEN_LOANS",
        )
    return ValidationOutcome(FlowNode.RISK_CHECKED, LOAN_RISK_CHECKS)


def risk_check_reimbursement(cmd: ReimbursementCommand, limits: BillLimits) -> ValidationOutcome:
    """Single-reimbursement limit on R, and at most max_linked_loans linked loans."""
    _check_single_limit(
        cmd.reimbursement_amount, limits.max_reimbursement_amount, "reimbursement_amount", "reimbursement"
    )
    if len(cmd.write_offs) > limits.max_linked_loans:
        raise BusinessRuleViolation(
            f"{len(cmd.write_offs)} loans linked; a reimbursement may write off at most "
            f"{limits.max_linked_loans}",
            field="write_offs",
            code="TOO_MANY_LINKED_LOANS",
        )
    return ValidationOutcome(FlowNode.RISK_CHECKED, REIMBURSEMENT_RISK_CHECKS)


def _check_single_limit(amount: Money, limits: Mapping[str, Decimal], field: str, what: str) -> None:
    limit = limits.get(amount.currency)
    # A currency without a configured limit fails closed.
    if limit is None or amount.decimal > limit:
        shown = "no limit configured" if limit is None else f"the limit is {limit}"
        raise BusinessRuleViolation(
            f"a single {what} of {amount} {amount.currency} is over the limit ({shown})",
            field=field,
            code="SINGLE_BILL_LIMIT_EXCEEDED",
        )


# -- business processing -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferLog:
    """转账日志: money moved from the company to the applicant."""

    amount: Money
    payer_account_id: str
    payee_account_id: str


@dataclass(frozen=True, slots=True)
class WriteOffLog:
    """核销日志: one linked loan written off by this reimbursement."""

    loan_bill_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LoanUpdate:
    """A linked loan's new open amount; apply only while it still is `expected_open_amount`."""

    loan_bill_id: str
    expected_open_amount: Money
    open_amount: Money
    state: LoanState


@dataclass(frozen=True, slots=True)
class BusinessPlan:
    """Everything one business transaction writes for a bill (the final state aside)."""

    kind: BillKind
    bill_code: str
    applicant_account_id: str
    postings: tuple[Posting, ...]
    paid_amount: Money  # the loan amount or the real amount R - W
    write_off_total: Money
    transfer_log: TransferLog | None
    write_off_logs: tuple[WriteOffLog, ...]
    loan_updates: tuple[LoanUpdate, ...]
    opened_loan: Money | None  # a loan bill opens a loan of its amount


def plan_business(
    bill: BillCommand,
    loans: Mapping[str, LoanView],
    company_account_id: str,
    write_off_account_id: str | None = None,
) -> BusinessPlan:
    """Plan the business transaction of a paid (or transfer-mode) bill; `loans` by loan bill id.

    A write-off credits `write_off_account_id` (the company's loan write-off clearing account)
    when given, so that the company's paying account mirrors exactly the cash the bank paid out;
    without it the write-off returns to the paying account.

    Re-checks the amounts and the linked loans against `loans` as they are now: a loan written
    off by another bill since acceptance fails business processing rather than going negative.
    """
    applicant = bill.applicant_account_id
    if applicant == company_account_id:
        raise BusinessRuleViolation(
            "the applicant account is the company's own account; name the applicant's",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )
    if isinstance(bill, LoanCommand):
        _check_amounts([("amount", bill.amount, False)], bill.amount.currency)
        postings = transfer(company_account_id, applicant, bill.amount, FlowKind.LOAN, memo="loan")
        check_balanced(postings)
        return BusinessPlan(
            kind=BillKind.LOAN,
            bill_code=bill.bill_code,
            applicant_account_id=applicant,
            postings=postings,
            paid_amount=bill.amount,
            write_off_total=Money.zero(bill.amount.currency),
            transfer_log=TransferLog(bill.amount, company_account_id, applicant),
            write_off_logs=(),
            loan_updates=(),
            opened_loan=bill.amount,
        )
    _check_amounts(_reimbursement_amounts(bill), bill.reimbursement_amount.currency)
    _check_real_amount(bill)
    _check_linked_loans(bill, loans)
    _check_write_off_sum(bill)
    real = real_amount(bill)
    legs: list[Posting] = []
    transfer_log = None
    if real.minor > 0:
        legs.extend(
            transfer(company_account_id, applicant, real, FlowKind.REIMBURSEMENT, memo="reimbursement")
        )
        transfer_log = TransferLog(real, company_account_id, applicant)
    updates: list[LoanUpdate] = []
    if bill.write_off_total.minor > 0:
        legs.extend(
            transfer(
                applicant,
                write_off_account_id or company_account_id,
                bill.write_off_total,
                FlowKind.WRITE_OFF,
                memo="write-off",
            )
        )
        for line in bill.write_offs:
            before = loans[line.loan_bill_id].open_amount
            after = before - line.amount
            state = LoanState.WRITTEN_OFF if after.minor == 0 else LoanState.OPEN
            updates.append(LoanUpdate(line.loan_bill_id, before, after, state))
    check_balanced(legs)
    return BusinessPlan(
        kind=BillKind.REIMBURSEMENT,
        bill_code=bill.bill_code,
        applicant_account_id=applicant,
        postings=tuple(legs),
        paid_amount=real,
        write_off_total=bill.write_off_total,
        transfer_log=transfer_log,
        write_off_logs=tuple(WriteOffLog(line.loan_bill_id, line.amount) for line in bill.write_offs),
        loan_updates=tuple(updates),
        opened_loan=None,
    )


# -- life of a bill ------------------------------------------------------------------------------


class BillStatus(enum.StrEnum):
    RECEIVED = "received"  # 请求原始日志: saved, not yet checked
    VALIDATION_FAILED = "validation_failed"  # 支付校验失败
    RISK_REJECTED = "risk_rejected"  # 风控校验失败
    ACCEPTED = "accepted"  # checks passed, nothing paid yet
    BANK_SUBMITTED = "bank_submitted"  # packet_id committed; 8801 sent or about to be
    BANK_PROCESSING = "bank_processing"  # 8801/8804: 交易处理过程中
    BANK_UNKNOWN = "bank_unknown"  # no trustworthy answer: query, never re-send
    BANK_SUCCEEDED = "bank_succeeded"  # 交易成功: paid by the bank; business processing due
    BANK_FAILED = "bank_failed"  # 拒绝交易: definitely rejected, nothing paid
    TRANSFER_PENDING = "transfer_pending"  # system transfer: business processing due
    BUSINESS_FAILED = "business_failed"  # the business transaction rolled back
    COMPLETED = "completed"  # 终态: ledger, logs and loans written


_S = BillStatus
BANK_STATUSES: frozenset[BillStatus] = frozenset(
    {_S.BANK_SUBMITTED, _S.BANK_PROCESSING, _S.BANK_UNKNOWN, _S.BANK_SUCCEEDED, _S.BANK_FAILED}
)
_CHECK_OUTCOMES = {_S.ACCEPTED, _S.VALIDATION_FAILED, _S.RISK_REJECTED}
_BANK_ANSWERS = {_S.BANK_PROCESSING, _S.BANK_UNKNOWN, _S.BANK_SUCCEEDED, _S.BANK_FAILED}
_BUSINESS_OUTCOMES = {_S.COMPLETED, _S.BUSINESS_FAILED}

# Self-moves record a repeat with the same result (still processing, re-run failed again).
BILL_STATES: StateMachine[BillStatus] = StateMachine(
    "bill",
    {
        _S.RECEIVED: _CHECK_OUTCOMES,
        _S.VALIDATION_FAILED: _CHECK_OUTCOMES,
        _S.RISK_REJECTED: _CHECK_OUTCOMES,
        _S.ACCEPTED: {_S.BANK_SUBMITTED, _S.TRANSFER_PENDING},
        _S.BANK_SUBMITTED: _BANK_ANSWERS,
        _S.BANK_PROCESSING: _BANK_ANSWERS,
        _S.BANK_UNKNOWN: _BANK_ANSWERS,
        _S.BANK_FAILED: {_S.BANK_SUBMITTED, _S.TRANSFER_PENDING},
        _S.BANK_SUCCEEDED: _BUSINESS_OUTCOMES,
        _S.TRANSFER_PENDING: _BUSINESS_OUTCOMES,
        _S.BUSINESS_FAILED: _BUSINESS_OUTCOMES,
        _S.COMPLETED: set(),
    },
)


def move_bill(current: BillStatus, target: BillStatus, pay_mode: PayMode) -> BillStatus:
    """`BILL_STATES.move`, and the bank path only in bank mode, transfer_pending only in transfer.

    `pay_mode` is the mode the bill has after the move (transfer for SWITCH_TO_TRANSFER).
    """
    BILL_STATES.move(current, target)
    if target in BANK_STATUSES and pay_mode is not PayMode.BANK:
        raise IllegalTransition(
            f"bill cannot go to {target.value} in {pay_mode.value} mode: the bank path is for bank mode",
            field="status",
        )
    if target is BillStatus.TRANSFER_PENDING and pay_mode is not PayMode.TRANSFER:
        raise IllegalTransition(
            f"bill cannot go to {target.value} in {pay_mode.value} mode: switch to transfer first",
            field="status",
        )
    return target


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
    ErrorAction.REVALIDATE: frozenset(_CHECK_OUTCOMES),
    ErrorAction.RESEND_BANK: frozenset({_S.BANK_SUBMITTED}),
    ErrorAction.REQUERY_BANK: frozenset(_BANK_ANSWERS),
    ErrorAction.RERUN_BUSINESS: frozenset(_BUSINESS_OUTCOMES),
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
