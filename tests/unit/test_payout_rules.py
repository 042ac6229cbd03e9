"""The payout domain: each applied item checked on its own, the review state machine, masking,
and the report's grouping rules."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.errors import IllegalTransition, InvalidArgument
from core.money import Money
from core.payouts.checks import ItemCode, ItemProblem, check_item
from core.payouts.model import (
    PayMethod,
    Payout,
    PayoutApplication,
    PayoutStatus,
    PayoutType,
    payment_out_request_no,
)
from core.payouts.payees import mask_account
from core.payouts.report import PayoutReport, ReportGroup, ReportKey, ReportQuery
from core.usecases.payouts.views import report_csv

NOW = datetime(2024, 5, 20, 8, 0, tzinfo=UTC)
BANK = {"main_bank": "中国工商银行", "province": "江苏省", "city": "苏州市", "branch": "苏州分行"}


def item(**changes: Any) -> dict[str, Any]:
    ext = {"type": 2, "pay_method": 1, "reason": "flight cancelled", "payee_name": "张三"}
    ext.update(changes.pop("ext", {}))
    return {
        "serial_no": "S-1",
        "order_serial_no": "O-1",
        "payee_account": "zhangsan@example.com",
        "amount": "12.30",
        "ext": ext,
        **changes,
    }


def problem(raw: object) -> ItemProblem:
    result = check_item(raw)
    assert isinstance(result, ItemProblem), result
    return result


def accepted(raw: object) -> PayoutApplication:
    result = check_item(raw)
    assert isinstance(result, PayoutApplication), result
    return result


def seed_named(**ext_changes: Any) -> dict[str, Any]:
    """item() as the old platform names it (OutwardPayDataDTO, ExtDataInfo)."""
    ext = {"type": 2, "payMethod": 1, "paidRemark": "flight cancelled", "receivedName": "张三", **ext_changes}
    return {
        "projectOutwardPaySerialNo": "S-1",
        "orderSerialNo": "O-1",
        "account": "zhangsan@example.com",
        "amount": "12.30",
        "extData": json.dumps(ext, ensure_ascii=False),
    }


def test_the_seed_names_give_the_same_application_as_the_snake_case_ones() -> None:
    assert accepted(seed_named()) == accepted(item())
    assert accepted(seed_named()).fingerprint() == accepted(item()).fingerprint()


def test_seed_business_type_codes_and_pay_back_type_default() -> None:
    assert accepted(seed_named(businessType=1)).business_type.value == "B"
    assert accepted(seed_named(businessType=0)).business_type.value == "C"
    assert accepted(item(ext={"business_type": "B"})).business_type.value == "B"
    assert int(accepted(seed_named()).pay_back_type) == 2  # 目前仅有非原路
    assert problem(seed_named(businessType=2)).field == "ext.business_type"


def test_seed_flat_bank_fields_are_the_bank() -> None:
    flat = {
        "receivedMainBank": BANK["main_bank"],
        "receivedBankProvince": BANK["province"],
        "receivedBankCity": BANK["city"],
        "receivedBank": BANK["branch"],
    }
    seed = accepted(seed_named(payMethod=2, **flat))
    snake = accepted(item(ext={"pay_method": 2, "bank": BANK}))
    assert seed.bank == snake.bank and seed.bank is not None
    both = problem(seed_named(payMethod=2, bank=BANK, **flat))
    assert (both.code, both.field) == (ItemCode.INVALID_ARGUMENT, "ext")


def test_sms_pay_type_and_sms_phone_are_kept() -> None:
    a = accepted(seed_named(sms=True, payType=1, smsPhone="13812345678"))
    assert (a.send_sms, a.pay_type, a.sms_phone) == (True, 1, "13812345678")


def test_both_spellings_of_one_field_refuse_the_item() -> None:
    both = problem({**item(), "orderSerialNo": "O-2"})
    assert both.code == ItemCode.INVALID_ARGUMENT
    assert "`order_serial_no` and `orderSerialNo`" in both.message
    in_ext = problem(item(ext={"paidRemark": "again"}))
    assert (in_ext.field, "`reason` and `paidRemark`" in in_ext.message) == ("ext", True)


def test_a_complete_alipay_item_is_accepted() -> None:
    a = accepted(item())
    assert (a.pay_method, a.type, a.amount) == (PayMethod.ALIPAY, PayoutType(2), Money(1230, "CNY"))
    assert a.bank is None and a.business_type.value == "C"


def test_a_bank_item_needs_head_bank_province_city_and_branch() -> None:
    bank_item = item(ext={"pay_method": 2}, payee_account="6222020000000001")
    assert problem(bank_item).code == ItemCode.BANK_INFO_REQUIRED
    partial = item(ext={"pay_method": 2, "bank": {**BANK, "city": ""}}, payee_account="6222020000000001")
    found = problem(partial)
    assert (found.code, found.field) == (ItemCode.BANK_INFO_REQUIRED, "ext.bank.city")
    a = accepted(item(ext={"pay_method": 2, "bank": BANK}, payee_account="6222020000000001"))
    assert a.bank is not None and a.bank.branch == "苏州分行"


def test_bank_details_on_an_alipay_item_are_refused_but_blank_ones_ignored() -> None:
    assert problem(item(ext={"bank": BANK})).code == ItemCode.BANK_INFO_NOT_APPLICABLE
    blank = {key: "" for key in BANK}
    assert accepted(item(ext={"bank": blank})).bank is None


def test_test_reimbursement_needs_a_voucher() -> None:
    found = problem(item(ext={"type": 8}))
    assert (found.code, found.field) == (ItemCode.VOUCHER_REQUIRED, "ext.voucher")
    a = accepted(item(ext={"type": 8, "voucher": {"ref": "oss://vouchers/123.pdf"}}))
    assert a.voucher is not None and a.voucher.ref == "oss://vouchers/123.pdf"


@pytest.mark.parametrize("amount", ["0", "0.00", "-1.00", "1.234", "1e3", "", "12,30", "abc"])
def test_amounts_must_be_positive_decimal_strings_with_at_most_two_decimals(amount: str) -> None:
    assert problem(item(amount=amount)).code == ItemCode.INVALID_AMOUNT


def test_an_amount_sent_as_a_number_is_refused() -> None:
    assert problem(item(amount=12.3)).code == ItemCode.INVALID_AMOUNT


def test_credit_card_is_refused_as_unsupported_and_unknown_codes_as_invalid() -> None:
    assert problem(item(ext={"pay_method": 3})).code == ItemCode.UNSUPPORTED_PAY_METHOD
    assert problem(item(ext={"pay_method": 9})).code == ItemCode.INVALID_PAY_METHOD
    assert problem(item(ext={"type": 9})).code == ItemCode.INVALID_PAYOUT_TYPE
    assert problem(item(ext={"pay_back_type": 3})).code == ItemCode.INVALID_PAY_BACK_TYPE


def test_payee_name_is_required_where_alipay_requires_it() -> None:
    found = problem(item(ext={"payee_name": None}))
    assert (found.code, found.field) == (ItemCode.PAYEE_NAME_REQUIRED, "ext.payee_name")
    # an Alipay user id identifies the payee without a name
    assert accepted(item(ext={"payee_name": None}, payee_account="2088102146225135"))
    bank_item = item(ext={"pay_method": 2, "bank": BANK, "payee_name": " "}, payee_account="6222020000000001")
    assert problem(bank_item).code == ItemCode.PAYEE_NAME_REQUIRED


def test_only_cny_is_paid_out() -> None:
    assert problem(item(currency="USD")).code == ItemCode.UNSUPPORTED_CURRENCY


def test_shape_faults_name_the_field() -> None:
    missing = problem({k: v for k, v in item().items() if k != "order_serial_no"})
    assert (missing.code, missing.field) == (ItemCode.INVALID_ARGUMENT, "order_serial_no")
    extra = problem(item(colour="red"))
    assert (extra.code, extra.field) == (ItemCode.INVALID_ARGUMENT, "colour")
    assert problem("not an object").code == ItemCode.INVALID_ARGUMENT
    assert problem(item(ext={"type": "2"})).field == "ext.type"


def test_ext_data_may_come_as_the_seed_json_string() -> None:
    raw = item()
    raw["ext"] = json.dumps(raw["ext"])
    assert accepted(raw).reason == "flight cancelled"
    assert problem({**raw, "ext": "{not json"}).field == "ext"


def test_the_fingerprint_ignores_ext_data_spelling_but_not_content() -> None:
    raw = item()
    as_string = {**raw, "ext": json.dumps(raw["ext"])}
    assert accepted(raw).fingerprint() == accepted(as_string).fingerprint()
    assert accepted(raw).fingerprint() != accepted(item(amount="12.31")).fingerprint()


def payout(status: PayoutStatus = PayoutStatus.PENDING_REVIEW) -> Payout:
    return Payout("pyt_1", "shop", accepted(item()), "h", status, NOW, NOW)


def test_review_state_machine() -> None:
    approved = payout().moved(PayoutStatus.APPROVED, NOW)
    assert approved.moved(PayoutStatus.PAYING, NOW).moved(PayoutStatus.SUCCEEDED, NOW).is_final
    assert approved.moved(PayoutStatus.FAILED, NOW).finished_at == NOW
    rejected = payout().moved(PayoutStatus.REJECTED, NOW)
    assert rejected.is_final
    with pytest.raises(IllegalTransition):
        rejected.moved(PayoutStatus.APPROVED, NOW)
    with pytest.raises(IllegalTransition):
        payout().moved(PayoutStatus.PAYING, NOW)  # never paid without approval
    with pytest.raises(IllegalTransition):
        approved.moved(PayoutStatus.REJECTED, NOW)


def test_only_a_succeeded_payout_can_be_returned_and_returned_is_final() -> None:
    succeeded = payout().moved(PayoutStatus.APPROVED, NOW).moved(PayoutStatus.SUCCEEDED, NOW)
    returned = succeeded.moved(PayoutStatus.RETURNED, NOW)
    assert returned.is_final
    for status in (
        PayoutStatus.PENDING_REVIEW,
        PayoutStatus.APPROVED,
        PayoutStatus.PAYING,
        PayoutStatus.FAILED,
    ):
        with pytest.raises(IllegalTransition):
            payout(status).moved(PayoutStatus.RETURNED, NOW)
    with pytest.raises(IllegalTransition):
        returned.moved(PayoutStatus.SUCCEEDED, NOW)


def test_a_payout_has_one_payment_number() -> None:
    assert payment_out_request_no("pyt_1") == payment_out_request_no("pyt_1") == "payout/pyt_1"


@pytest.mark.parametrize(
    ("account", "masked"),
    [
        ("6222021234567890123", "6222***********0123"),
        ("zhangsan@example.com", "z*******@example.com"),
        ("13800001111", "1380***1111"),
        ("12345", "***45"),
    ],
)
def test_accounts_are_masked(account: str, masked: str) -> None:
    assert mask_account(account) == masked


def test_report_query_reads_dates_and_group_keys() -> None:
    q = ReportQuery.parse("2024-05-01", "2024-05-31", "platform, type,day,type", None)
    assert (q.start, q.end) == (date(2024, 5, 1), date(2024, 5, 31))
    assert q.group_by == (ReportKey.PLATFORM, ReportKey.TYPE, ReportKey.DAY)
    assert q.columns == ("app_id", "source_platform", "type", "type_name", "day", "currency")
    with pytest.raises(InvalidArgument) as bad_key:
        ReportQuery.parse(None, None, "platform,colour")
    assert bad_key.value.field == "group_by"
    with pytest.raises(InvalidArgument):
        ReportQuery.parse("2024-5-1", None, None)
    with pytest.raises(InvalidArgument):
        ReportQuery.parse("2024-06-01", "2024-05-01", None)


def test_report_totals_and_csv() -> None:
    q = ReportQuery.parse(None, None, "pay_method,status")
    report = PayoutReport(
        q,
        [
            ReportGroup(
                {"pay_method": "alipay", "status": "succeeded", "currency": "CNY"}, 2, Money(2460, "CNY")
            ),
            ReportGroup({"pay_method": "bank", "status": "failed", "currency": "CNY"}, 1, Money(8800, "CNY")),
        ],
    )
    assert report.totals() == [{"currency": "CNY", "count": 3, "amount": "112.60"}]
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows == [
        ["pay_method", "status", "currency", "count", "amount"],
        ["alipay", "succeeded", "CNY", "2", "24.60"],
        ["bank", "failed", "CNY", "1", "88.00"],
    ]
