"""Rules of lease orders (seed 000): the pre-order's checks, the contract, agreement, plan and
period state machines, collection guards, retries and the close preconditions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.errors import IllegalTransition, InvalidArgument
from core.lease.errors import ClosePreconditionFailed, LeaseStateConflict
from core.lease.numbers import attempt_request_no, external_agreement_no, order_of_external_agreement_no
from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.plan import RetrySchedule, due_moment
from core.lease.request import check_order
from core.lease.rules import check_contract_signing, check_plan_cancel, check_unsign
from core.lease.status import (
    AgreementStatus,
    AsyncUnsignOperation,
    CancelReason,
    ContractStatus,
    OrderStatus,
    PeriodStatus,
)
from core.money import Money
from gateway.http.schemas.lease import LeaseOrderBody

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
ORDER_ID = "lse_0195f2a3b4c5d6e7f8091a2b3c4"
BUYER = "2088102146225135"
SCHEDULE = RetrySchedule((3600, 86400))


def body(**changes: Any) -> LeaseOrderBody:
    values: dict[str, Any] = {
        "out_order_no": "RENT-1",
        "buyer_id": BUYER,
        "title": "iPhone 16 Pro 12 期租赁",
        "total_amount": "300.00",
        "period_count": 3,
        "periods": [
            {"due_date": "2026-03-01", "amount": "100.00"},
            {"due_date": "2026-04-01", "amount": "100.00"},
            {"due_date": "2026-05-01", "amount": "100.00"},
        ],
    }
    values.update(changes)
    return LeaseOrderBody.model_validate(values)


def new_order(**changes: Any) -> LeaseOrder:
    return LeaseOrder.new(ORDER_ID, "shop", check_order(body(**changes)), "hash", "ant_lease", T0)


def collecting_order(**changes: Any) -> LeaseOrder:
    """Synced, contract signed by its one party, agreement signed, contract finalised (落签)."""
    order = new_order(**changes).synced("2026030122001", T0)
    order = order.contract_signing("TPL", "C1", "https://sign/lessee", {"lessee": "u"}, ["lessee"], T0)
    order = order.contract_party_signed("C1", "lessee", T0)
    attempt, external = order.next_agreement_attempt()
    order = order.agreement_signing(attempt, "https://page", T0)
    return order.agreement_signed(external, "20265401", BUYER, T0).contract_finalised(T0)


# -- the pre-order ---------------------------------------------------------------------------
def test_a_valid_pre_order_becomes_a_rent_plan_due_from_beijing_midnight() -> None:
    order = new_order()
    assert order.status is OrderStatus.CREATED and order.total == Money(30000, "CNY")
    assert [p.no for p in order.periods] == [1, 2, 3]
    first = order.periods[0]
    assert first.due_date == date(2026, 3, 1) and first.status is PeriodStatus.PENDING
    assert first.next_attempt_at == datetime(2026, 2, 28, 16, 0, tzinfo=UTC) == due_moment(date(2026, 3, 1))


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"total_amount": "300.01"}, "RENT_PLAN_SUM_MISMATCH", "total_amount"),
        ({"period_count": 4}, "PERIOD_COUNT_MISMATCH", "period_count"),
        ({"currency": "USD"}, "UNSUPPORTED_CURRENCY", "currency"),
        ({"buyer_id": "zhangsan"}, "INVALID_ARGUMENT", "buyer_id"),
        ({"total_amount": "300.001"}, "INVALID_AMOUNT", "total_amount"),
        (
            {
                "periods": [
                    {"due_date": "2026-03-01", "amount": "150.00"},
                    {"due_date": "2026-03-01", "amount": "150.00"},
                ],
                "period_count": 2,
            },
            "DUE_DATES_NOT_INCREASING",
            "periods[1].due_date",
        ),
        (
            {"periods": [{"due_date": "2026-3-1", "amount": "300.00"}], "period_count": 1},
            "INVALID_ARGUMENT",
            "periods[0].due_date",
        ),
        (
            {"periods": [{"due_date": "2026-03-01", "amount": "0.00"}], "period_count": 1},
            "INVALID_AMOUNT",
            "periods[0].amount",
        ),
    ],
)
def test_a_pre_order_breaking_a_rule_is_refused_naming_the_field(
    changes: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_order(body(**changes))
    assert (refused.value.code, refused.value.field) == (code, field)


def test_external_agreement_numbers_are_short_alphanumeric_and_name_their_order() -> None:
    number = external_agreement_no(ORDER_ID, 3)
    assert len(number) <= 32 and number.isalnum()
    assert order_of_external_agreement_no(number) == (ORDER_ID, 3)
    assert order_of_external_agreement_no("SOMEONE-ELSES") is None
    with pytest.raises(ValueError):
        external_agreement_no("pay_123", 1)


def test_an_attempt_has_a_request_number_of_its_own() -> None:
    assert attempt_request_no(ORDER_ID, 2, 1) != attempt_request_no(ORDER_ID, 2, 2)
    assert attempt_request_no(ORDER_ID, 2, 1) == attempt_request_no(ORDER_ID, 2, 1)


# -- the contract ----------------------------------------------------------------------------
def test_contract_signing_needs_a_synced_order() -> None:
    with pytest.raises(LeaseStateConflict):
        new_order().contract_signing("TPL", "C1", "u", {}, ["lessee"], T0)


def test_a_multi_party_contract_is_signed_only_when_every_party_has_signed() -> None:
    order = new_order().synced("ali-1", T0)
    parties = {"lessee": "https://sign/lessee", "guarantor": "https://sign/guarantor"}
    order = order.contract_signing(
        "TPL_GUARANTEE", "C1", parties["lessee"], parties, ["lessee", "guarantor"], T0
    )
    order = order.contract_party_signed("C1", "lessee", T0)
    assert order.contract.status is ContractStatus.SIGNING and order.contract.signed_parties == ("lessee",)
    again = order.contract_party_signed("C1", "lessee", T0)
    assert again is order, "a repeated signature changes nothing"
    assert order.contract_party_signed("C-OLD", "guarantor", T0) is order, "another contract's signature"
    order = order.contract_party_signed("C1", "guarantor", T0 + timedelta(minutes=5))
    assert order.contract.status is ContractStatus.SIGNED
    assert order.contract.signed_at == T0 + timedelta(minutes=5)
    with pytest.raises(LeaseStateConflict):
        check_contract_signing(order)


def test_a_refused_or_expired_contract_signing_can_be_started_again() -> None:
    order = new_order().synced("ali-1", T0).contract_signing("TPL", "C1", "u", {}, ["lessee"], T0)
    refused = order.contract_sign_failed("C1", ContractStatus.REFUSED, "USER_REFUSED", T0)
    assert refused.contract.status is ContractStatus.REFUSED
    restarted = refused.contract_signing("TPL", "C2", "u2", {}, ["lessee"], T0)
    assert (restarted.contract.status, restarted.contract.attempts) == (ContractStatus.SIGNING, 2)
    assert restarted.contract_sign_failed("C1", ContractStatus.EXPIRED, "X", T0) is restarted


def test_finalising_comes_after_the_withholding_agreement() -> None:
    order = new_order().synced("ali-1", T0).contract_signing("TPL", "C1", "u", {}, ["lessee"], T0)
    order = order.contract_party_signed("C1", "lessee", T0)
    assert not order.ready_to_finalise
    with pytest.raises(LeaseStateConflict):
        order.contract_finalised(T0)
    attempt, external = order.next_agreement_attempt()
    order = order.agreement_signing(attempt, "https://page", T0).agreement_signed(external, "A1", BUYER, T0)
    assert order.ready_to_finalise
    finalised = order.contract_finalised(T0)
    assert finalised.contract.status is ContractStatus.FINALISED
    assert finalised.contract_finalised(T0) is finalised


# -- the withholding agreement ---------------------------------------------------------------
def test_agreement_signing_is_confirmed_once_and_repeats_change_nothing() -> None:
    order = new_order().synced("ali-1", T0)
    attempt, external = order.next_agreement_attempt()
    order = order.agreement_signing(attempt, "https://page", T0)
    assert (order.agreement.status, order.agreement.external_agreement_no) == (
        AgreementStatus.SIGNING,
        external,
    )
    signed = order.agreement_signed(external, "A1", BUYER, T0)
    assert (signed.agreement.status, signed.agreement.agreement_no) == (AgreementStatus.SIGNED, "A1")
    assert signed.agreement_signed(external, "A1", BUYER, T0) is signed
    with pytest.raises(ValueError):
        order.agreement_signed(external_agreement_no("lse_" + "f" * 27, 1), "A9", BUYER, T0)


def test_a_new_signing_attempt_replaces_the_old_one_whose_late_confirmation_never_counts() -> None:
    order = new_order().synced("ali-1", T0)
    first_attempt, first = order.next_agreement_attempt()
    order = order.agreement_signing(first_attempt, "https://page/1", T0)
    second_attempt, second = order.next_agreement_attempt()
    order = order.agreement_signing(second_attempt, "https://page/2", T0)
    assert second != first and order.agreement.attempt == 2
    assert order.agreement.sign_url == "https://page/2" and not order.is_live_signing(first)
    assert order.agreement_signed(first, "A1", BUYER, T0) is order, "one live agreement per order"
    signed = order.agreement_signed(second, "A2", BUYER, T0)
    assert (signed.agreement.agreement_no, signed.agreement.attempt) == ("A2", 2)


def test_unsigning_ends_collection_and_a_foreign_unsign_changes_nothing() -> None:
    order = collecting_order()
    assert order.collecting_allowed()
    assert order.agreement_unsigned("OTHER", "user", T0) is order
    unsigned = order.agreement_unsigned("20265401", "merchant", T0)
    assert unsigned.agreement.status is AgreementStatus.UNSIGNED
    assert not unsigned.collecting_allowed() and unsigned.due_periods(T0 + timedelta(days=90)) == []
    assert unsigned.agreement_unsigned("20265401", "again", T0) is unsigned
    with pytest.raises(LeaseStateConflict):
        check_unsign(unsigned)


def test_an_async_unsign_refusal_is_kept_and_the_agreement_stays_signed() -> None:
    refusal = UnsignRefusal(AsyncUnsignOperation.REFUSE, "客服小王", Money(5000, "CNY"), "用户尚有欠款", T0)
    order = collecting_order().unsign_refused(refusal)
    assert order.agreement.status is AgreementStatus.SIGNED
    assert order.agreement.unsign_refusals == (refusal,)
    assert UnsignRefusal.from_json(refusal.to_json()) == refusal


# -- collection ------------------------------------------------------------------------------
def test_nothing_is_collected_before_the_contract_and_agreement_are_signed() -> None:
    later = T0 + timedelta(days=100)
    assert new_order().synced("ali-1", T0).due_periods(later) == []
    assert [p.no for p in collecting_order().due_periods(later)] == [1, 2, 3]
    assert [p.no for p in collecting_order().due_periods(T0)] == [1]


def test_a_period_never_has_two_live_attempts() -> None:
    order, period = collecting_order().start_attempt(1, T0)
    assert (period.status, period.attempts, period.next_attempt_at) == (PeriodStatus.COLLECTING, 1, None)
    assert 1 not in [p.no for p in order.due_periods(T0 + timedelta(days=1))]
    with pytest.raises(LeaseStateConflict):
        order.start_attempt(1, T0)


def test_a_failed_attempt_is_retried_on_the_schedule_then_left_failed() -> None:
    order, _ = collecting_order().start_attempt(1, T0)
    order = order.attempt_failed(1, 1, "pay_1", "BUYER_BALANCE_NOT_ENOUGH", "余额不足", T0, SCHEDULE)
    period = order.period(1)
    assert (period.status, period.attempts, period.last_failure_code) == (
        PeriodStatus.FAILED,
        1,
        "BUYER_BALANCE_NOT_ENOUGH",
    )
    assert period.next_attempt_at == T0 + timedelta(hours=1)
    assert order.due_periods(T0 + timedelta(minutes=59)) == []
    order, _ = order.start_attempt(1, T0 + timedelta(hours=1))
    order = order.attempt_failed(1, 2, "pay_2", "BUYER_BALANCE_NOT_ENOUGH", None, T0, SCHEDULE)
    assert order.period(1).next_attempt_at == T0 + timedelta(days=1)
    order, _ = order.start_attempt(1, T0 + timedelta(days=1))
    order = order.attempt_failed(1, 3, "pay_3", "BUYER_BALANCE_NOT_ENOUGH", None, T0, SCHEDULE)
    assert (order.period(1).status, order.period(1).next_attempt_at) == (PeriodStatus.FAILED, None)


def test_only_the_current_attempt_moves_its_period() -> None:
    order, _ = collecting_order().start_attempt(1, T0)
    assert order.attempt_paid(1, 7, "pay_x", "T1", T0) is order
    paid = order.attempt_paid(1, 1, "pay_1", "T1", T0)
    assert (paid.period(1).status, paid.period(1).trade_no) == (PeriodStatus.PAID, "T1")
    assert paid.attempt_failed(1, 1, "pay_1", "X", None, T0, SCHEDULE) is paid
    with pytest.raises(IllegalTransition):
        paid.period(1).moved(PeriodStatus.COLLECTING)


# -- plan and close --------------------------------------------------------------------------
def test_closing_an_unfulfilled_order_names_the_unmet_precondition() -> None:
    order, _ = collecting_order().start_attempt(1, T0)
    with pytest.raises(ClosePreconditionFailed) as in_flight:
        order.closed("done", T0)
    assert in_flight.value.field == "no_deduction_in_flight" and in_flight.value.http_status == 409
    order = order.attempt_paid(1, 1, "pay_1", "T1", T0)
    with pytest.raises(ClosePreconditionFailed) as unpaid:
        order.closed("done", T0)
    assert unpaid.value.field == "fulfilled_or_plan_cancelled"
    assert "period 2, 3 unpaid" in unpaid.value.message
    with pytest.raises(ClosePreconditionFailed) as not_synced:
        new_order().closed("done", T0)
    assert not_synced.value.field == "synced"


def test_a_fulfilled_lease_closes() -> None:
    order = collecting_order(
        total_amount="100.00", period_count=1, periods=[{"due_date": "2026-03-01", "amount": "100.00"}]
    )
    order, _ = order.start_attempt(1, T0)
    order = order.attempt_paid(1, 1, "pay_1", "T1", T0)
    closed = order.closed("lease complete", T0)
    assert closed.status is OrderStatus.CLOSED
    assert closed.closure is not None and (closed.closure.basis, closed.closure.reason) == (
        "fulfilled",
        "lease complete",
    )


@pytest.mark.parametrize("reason", [CancelReason.LEASE_TO_SALE, CancelReason.RETURN_SUCCESS])
def test_a_plan_cancelled_for_lease_to_sale_or_a_return_allows_closing(reason: CancelReason) -> None:
    order, _ = collecting_order().start_attempt(1, T0)
    order = order.attempt_paid(1, 1, "pay_1", "T1", T0)
    cancelled = order.plan_cancelled(reason, "user bought it", T0)
    assert [p.status for p in cancelled.periods] == [
        PeriodStatus.PAID,
        PeriodStatus.CANCELLED,
        PeriodStatus.CANCELLED,
    ]
    assert cancelled.due_periods(T0 + timedelta(days=365)) == []
    closed = cancelled.closed("sold", T0)
    assert closed.closure is not None and closed.closure.basis == reason.value
    with pytest.raises(LeaseStateConflict):
        check_plan_cancel(cancelled, CancelReason.OTHER)


def test_a_plan_cancelled_for_another_reason_does_not_allow_closing() -> None:
    cancelled = collecting_order().plan_cancelled(CancelReason.OTHER, "user asked", T0)
    with pytest.raises(ClosePreconditionFailed) as refused:
        cancelled.closed("x", T0)
    assert "cancelled for other" in refused.value.message


def test_a_plan_cancelled_for_other_is_cancelled_again_for_a_closing_reason_then_closes() -> None:
    cancelled = collecting_order().plan_cancelled(CancelReason.OTHER, "user asked", T0)
    with pytest.raises(LeaseStateConflict):
        check_plan_cancel(cancelled, CancelReason.OTHER)
    again = cancelled.plan_cancelled(CancelReason.RETURN_SUCCESS, "goods came back", T0)
    assert (again.plan.cancel_reason, again.plan.cancel_note) == (
        CancelReason.RETURN_SUCCESS,
        "goods came back",
    )
    closed = again.closed("returned", T0)
    assert closed.closure is not None and closed.closure.basis == "return_success"
    with pytest.raises(LeaseStateConflict):
        check_plan_cancel(again, CancelReason.LEASE_TO_SALE)


def test_nothing_is_withheld_before_the_contract_is_finalised_unless_its_template_allows() -> None:
    order = new_order().synced("ali-1", T0)
    attempt, external = order.next_agreement_attempt()
    order = order.agreement_signing(attempt, "https://page", T0)
    for rent_first in (False, True):
        o = order.contract_signing(
            "TPL", "C1", "u", {"lessee": "u"}, ["lessee"], T0, rent_before_finalise=rent_first
        )
        o = o.contract_party_signed("C1", "lessee", T0).agreement_signed(external, "A1", BUYER, T0)
        assert o.contract.status is ContractStatus.SIGNED and o.ready_to_finalise
        assert o.collecting_allowed() is rent_first
        if not rent_first:
            with pytest.raises(LeaseStateConflict):
                o.start_attempt(1, T0)
            assert o.contract_finalised(T0).collecting_allowed()


def test_a_claimed_close_cancel_or_unsign_stops_deductions_and_is_undone_on_refusal() -> None:
    order = collecting_order()
    paid = order
    for no in (1, 2, 3):
        paid, _ = paid.start_attempt(no, T0)
        paid = paid.attempt_paid(no, 1, f"pay_{no}", f"T{no}", T0)
    closing = paid.closing("done", T0)
    assert closing.status is OrderStatus.CLOSING and not closing.open
    assert closing.close_undone(T0).status is OrderStatus.SYNCED
    assert closing.closed("done", T0).closure.basis == "fulfilled"  # type: ignore[union-attr]
    cancelling = order.plan_cancelling(CancelReason.LEASE_TO_SALE, "sold", T0)
    unsigning = order.agreement_unsigning("returned", T0)
    for claimed in (cancelling, unsigning):
        assert not claimed.collecting_allowed() and claimed.due_periods(T0 + timedelta(days=90)) == []
        with pytest.raises(LeaseStateConflict):
            claimed.start_attempt(1, T0)
    assert cancelling.plan_cancel_undone(T0).collecting_allowed()
    assert unsigning.unsign_undone(T0).collecting_allowed()
    assert cancelling.plan_cancelled(CancelReason.LEASE_TO_SALE, "sold", T0).plan.cancelled_at == T0
    with pytest.raises(ClosePreconditionFailed):
        order.start_attempt(1, T0)[0].closing("while collecting", T0)


def test_an_attempt_failing_after_the_plan_was_cancelled_cancels_its_period() -> None:
    order, _ = collecting_order().start_attempt(1, T0)
    order = order.plan_cancelled(CancelReason.RETURN_SUCCESS, "returned", T0)
    assert order.period(1).status is PeriodStatus.COLLECTING, "a live attempt is left to finish"
    order = order.attempt_failed(1, 1, "pay_1", "BUYER_BALANCE_NOT_ENOUGH", None, T0, SCHEDULE)
    assert order.period(1).status is PeriodStatus.CANCELLED
    assert order.closed("returned", T0).status is OrderStatus.CLOSED


def test_the_workers_backoff_doubles_up_to_its_ceiling_and_forgets_a_success() -> None:
    from core.usecases.lease.recovery import Backoff

    backoff = Backoff(timedelta(seconds=60), timedelta(seconds=200))
    assert backoff.due("sync/x", T0)
    backoff.failed("sync/x", T0)
    assert not backoff.due("sync/x", T0 + timedelta(seconds=59)) and backoff.due(
        "sync/x", T0 + timedelta(seconds=60)
    )
    backoff.failed("sync/x", T0)
    assert not backoff.due("sync/x", T0 + timedelta(seconds=119))
    backoff.failed("sync/x", T0)
    assert backoff.due("sync/x", T0 + timedelta(seconds=200)), "at most the ceiling"
    backoff.succeeded("sync/x")
    assert backoff.due("sync/x", T0)
