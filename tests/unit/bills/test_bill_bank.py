"""Specification of a bill's bank attempts (core.usecases.bills.bank, listener, recovery) on the
fakes: the real payment service pays the attempt through a scripted bank channel, and the bill
moves with its payment inside the payment's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from fakes.workflows import APPLICANT, APPLICANT_CARD, BILL_APP, COMPANY_CARD, BillWorld, bill_world

from core.bills.model import BankFailureEvidence, BillKind, BillStatus
from core.money import Money
from core.payments.model import PaymentStatus
from core.usecases.bills.listener import BillPaymentListener, DueBills
from core.usecases.bills.requests import BillRequest
from ports.channels import ChannelResult, ChannelStatus

PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="E-1")
PROCESSING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="E-1")
REFUSED = ChannelResult(ChannelStatus.FAILED, code="ACCOUNT_CLOSED", message="payee account closed")


def bank_loan(code: str = "JK-1", amount: int = 100_000) -> BillRequest:
    return BillRequest(
        app_id=BILL_APP,
        kind=BillKind.LOAN,
        request_hash=code,
        bill_code=code,
        pay_mode="bank",
        applicant_account_id=APPLICANT,
        amount=Money(amount, "CNY"),
        write_off_total=Money.zero("CNY"),
        payer_card_no=COMPANY_CARD,
        payee_card_no=APPLICANT_CARD,
        payee_name="Zhang San",
    )


def attempt_payment_status(world: BillWorld, bill_id: str) -> PaymentStatus:
    bill = world.bill(bill_id)
    [payment] = [p for p in world.storage.state.payments.values() if p.details.get("bill_id") == bill.id]
    return payment.status


async def test_intake_answers_once_the_attempt_is_saved_and_never_calls_the_bank() -> None:
    world = bill_world(PAID)
    bill, created = await world.intake.submit(bank_loan())
    assert created and bill.status is BillStatus.BANK_SUBMITTED and bill.attempt == 1
    assert world.bank.calls == [] and world.storage.state.payments == {}, "the bank is the worker's"
    assert world.ctx.sends.event.is_set(), "the send worker is woken at once"
    assert world.events() == []


async def test_a_bank_loan_is_paid_by_the_bank_then_processed_at_once() -> None:
    world = bill_world(PAID)
    bill, created = await world.intake.submit(bank_loan())
    assert await world.send() == 1
    assert world.bill(bill.id).status is BillStatus.COMPLETED
    [request] = world.bank.calls
    assert (request.payer_account, request.payee_account) == (COMPANY_CARD, APPLICANT_CARD)
    assert request.details["bill_id"] == bill.id and request.details["bill_attempt"] == 1
    assert world.bill(bill.id).payment_id == request.payment_id
    assert world.events() == [("bill.completed", bill.id)]
    assert world.postings(bill.id) == [
        (f"cpay_{BILL_APP}_CNY", Money(-100_000, "CNY")),
        (APPLICANT, Money(100_000, "CNY")),
    ]


async def test_a_refused_bank_payment_fails_the_bill_and_tells_the_caller() -> None:
    world = bill_world(REFUSED)
    bill = await world.submit(bank_loan())
    assert bill.status is BillStatus.BANK_FAILED
    assert bill.failure is not None and bill.failure.code == "ACCOUNT_CLOSED"
    assert world.events() == [("bill.failed", bill.id)]
    assert world.storage.state.entries == [], "nothing was paid, nothing is posted"


async def test_a_processing_attempt_is_asked_about_again_and_completes_on_success() -> None:
    world = bill_world(PROCESSING, PAID)
    bill = await world.submit(bank_loan())
    assert bill.status is BillStatus.BANK_PROCESSING and world.events() == []
    assert await world.poll() == 0, "its first query is not due yet"

    asked = await world.bank_attempts.requery(bill)

    assert asked.status is BillStatus.BANK_PROCESSING and len(world.bank.calls) == 1, "not asked here"
    assert world.ctx.queries.is_set(), "the query poller is woken"
    assert await world.poll() == 1  # the poller's round: one 8804
    assert await world.recovery.process_due(10) == 1  # business processing after the success
    assert world.bill(bill.id).status is BillStatus.COMPLETED
    assert len(world.bank.calls) == 2, "one 8801 and one 8804, never a second payment"
    assert attempt_payment_status(world, bill.id) is PaymentStatus.SUCCEEDED
    assert world.events() == [("bill.completed", bill.id)]


async def test_requery_bank_never_waits_on_a_bank_that_does_not_answer() -> None:
    """The operator's requery is answered while the bank hangs: it only makes the attempt's
    payment due now (twice asked: once due), and the poller's query is the one that waits."""
    world = bill_world(PROCESSING)
    bill = await world.submit(bank_loan())
    world.bank.hang = True  # from now on the bank never answers
    [payment] = [p for p in world.storage.state.payments.values() if p.details.get("bill_id") == bill.id]

    def next_query_at() -> datetime:
        due: datetime = world.storage.state.schedules[payment.id]["next_query_at"]
        return due

    assert next_query_at() > world.pay.clock.now
    assert (await world.bank_attempts.requery(bill)).status is BillStatus.BANK_PROCESSING
    due = next_query_at()
    assert due <= world.pay.clock.now, "due for the query poller now"
    assert (await world.bank_attempts.requery(bill)).status is BillStatus.BANK_PROCESSING
    assert next_query_at() == due, "already due: asked once"
    assert len(world.bank.calls) == 1, "only the 8801: no 8804 in the requests"


async def test_requery_bank_asks_again_about_an_escalated_attempt_which_stays_escalated() -> None:
    world = bill_world(PROCESSING)
    bill = await world.submit(bank_loan())
    [payment] = [p for p in world.storage.state.payments.values() if p.details.get("bill_id") == bill.id]
    steps = len(world.pay.service.schedule_for(payment.channel).steps)
    await world.pay.service.resolve(payment, attempts=steps - 1)  # the schedule's last step
    schedule = world.storage.state.schedules[payment.id]
    assert schedule["escalated"] is True and schedule["next_query_at"] > world.pay.clock.now
    await world.bank_attempts.requery(bill)
    assert await world.poll() == 1 and len(world.bank.calls) == 3
    schedule = world.storage.state.schedules[payment.id]
    assert schedule["escalated"] is True and schedule["query_attempts"] == steps + 1


async def test_an_attempt_with_no_route_fails_the_bill_before_anything_is_sent() -> None:
    world = bill_world(PAID)
    world.pay.service.access.router.rules = ()
    bill = await world.submit(bank_loan())
    assert bill.status is BillStatus.BANK_FAILED
    assert bill.failure is not None and bill.failure.code == "NO_ROUTE"
    assert world.bank.calls == [] and world.storage.state.payments == {}


async def test_an_attempt_a_crash_left_unsent_is_sent_once_by_any_worker() -> None:
    world = bill_world(PROCESSING)
    bill, _ = await world.intake.submit(bank_loan())
    world.ctx.sends.take()  # as if the process had died before its send worker ran

    assert await world.sending.send_due(10, "another-process") == 1, "found in the database"
    assert world.bill(bill.id).status is BillStatus.BANK_PROCESSING and len(world.bank.calls) == 1
    assert await world.send() == 0, "a processing attempt is not sent again"
    assert len(world.bank.calls) == 1


async def test_an_attempt_claimed_by_another_worker_is_left_to_it_until_its_claim_expires() -> None:
    world = bill_world(PROCESSING)
    bill, _ = await world.intake.submit(bank_loan())
    now = world.ctx.clock()
    async with world.storage.uow() as uow:  # a worker elsewhere claimed it, then stopped
        assert await uow.bills.claim_attempt(
            bill.id, 1, holder="stopped", until=now + timedelta(minutes=1), now=now
        )
        await uow.commit()

    assert await world.send() == 0 and world.bank.calls == [], "never two senders of one attempt"
    world.ctx.clock.now += timedelta(minutes=2)  # type: ignore[attr-defined]
    assert await world.send() == 1 and len(world.bank.calls) == 1, "taken over once expired"


async def test_a_saved_attempt_whose_answer_was_lost_is_queried_never_sent_again() -> None:
    world = bill_world(PROCESSING, PAID)
    bill, _ = await world.intake.submit(bank_loan())
    # the payment was saved and sent, then the process died before the answer was applied
    await world.pay.service.submit(world.bank_attempts.payment_command(world.bill(bill.id)))
    [payment] = world.storage.state.payments.values()
    world.storage.state.payments[payment.id] = replace(payment, status=PaymentStatus.CREATED)
    world.storage.state.bills[bill.id] = replace(world.bill(bill.id), payment_id=None)
    world.storage.state.bills[bill.id] = replace(world.bill(bill.id), status=BillStatus.BANK_SUBMITTED)

    world.flow.records.clear()
    world.storage.state.flow.clear()
    assert await world.send() == 1
    assert len(world.bank.calls) == 2, "the 8801, then one 8804: never a second 8801"
    assert world.bill(bill.id).status is BillStatus.COMPLETED
    [answer] = [r for r in world.flow.all_records() if r.subject_id == bill.id and "answer" in r.node.value]
    assert answer.node.value == "query_answer" and answer.message.startswith("8804 answer")


async def test_a_refusal_learnt_by_8804_after_a_lost_8801_answer_is_final_8804_evidence() -> None:
    world = bill_world(PROCESSING, REFUSED)
    bill, _ = await world.intake.submit(bank_loan())
    await world.pay.service.submit(world.bank_attempts.payment_command(world.bill(bill.id)))
    [payment] = world.storage.state.payments.values()
    world.storage.state.payments[payment.id] = replace(payment, status=PaymentStatus.CREATED)
    world.storage.state.bills[bill.id] = replace(world.bill(bill.id), status=BillStatus.BANK_SUBMITTED)

    await world.send()

    failed = world.bill(bill.id)
    assert failed.status is BillStatus.BANK_FAILED
    assert failed.bank_failure_evidence is BankFailureEvidence.FINAL_8804


async def test_a_bank_failed_bill_gets_a_failed_final_state_node() -> None:
    world = bill_world(REFUSED)
    bill = await world.submit(bank_loan())
    assert bill.bank_failure_evidence is BankFailureEvidence.DEFINITE_REFUSAL
    records = [r for r in world.flow.all_records() if r.subject_id == bill.id]
    assert [r.node.value for r in records][-2:] == ["channel_answer", "final_state"]
    assert records[-1].outcome.value == "failed" and records[-1].detail["status"] == "bank_failed"


async def test_recovery_runs_business_processing_of_bills_the_bank_paid() -> None:
    world = bill_world(PAID)
    bill, _ = await world.intake.submit(bank_loan())
    # as if business processing had not run after the bank's success (a crash in between)
    world.storage.state.bills[bill.id] = replace(world.bill(bill.id), status=BillStatus.BANK_SUCCEEDED)
    world.storage.state.entries.clear()
    assert await world.recovery.process_due(10) == 1
    assert world.bill(bill.id).status is BillStatus.COMPLETED


def test_the_bill_listener_follows_only_bill_payments() -> None:
    from fakes.workflows import BILL_TIME

    from core.payments.model import Payment

    listener = BillPaymentListener(DueBills())
    payment = Payment(
        "pay_1", BILL_APP, "r", "h", "bank", "spdb", Money(1, "CNY"), None, None,
        PaymentStatus.PROCESSING, BILL_TIME, BILL_TIME, details={"bill_id": "bill_1"},
    )  # fmt: skip
    assert listener.follows(payment)
    assert not listener.follows(replace(payment, details={"payout_id": "pyt_1"}))


async def test_the_attempt_carries_the_registered_cards_bank_number_to_the_channel() -> None:
    world = bill_world(PROCESSING)
    account = world.storage.state.accounts[APPLICANT]
    card = account.opened.bank_card
    assert card is not None
    icbc = replace(card, bank_name="ICBC Shanghai", bank_no="102290000019")
    account.opened = replace(account.opened, bank_card=icbc)

    bill = await world.submit(bank_loan())

    assert (bill.payee_bank_name, bill.payee_bank_no) == ("ICBC Shanghai", "102290000019")
    [request] = world.bank.calls
    assert request.details["payee_bank_no"] == "102290000019"
