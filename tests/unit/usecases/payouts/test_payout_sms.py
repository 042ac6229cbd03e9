"""The SMS a payout application asks for (seed 001 `sms`): sent through the notification port
once the payout is paid and that is committed, at most once, to the given phone or a mobile
payee account; a failing sender never fails the payout."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import pytest
from fakes.workflows import PayoutWorld, payout_world
from payout_builders import payment_of, stored_payout

from core.payments.model import PaymentStatus
from core.payouts.model import Payout, PayoutStatus
from core.usecases.payouts.listener import PayoutResultListener
from core.usecases.payouts.sms import PayeeTexts
from ports.notify import SmsMessage


class RecordingSender:
    def __init__(self, error: Exception | None = None, *, hang: bool = False) -> None:
        self.sent: list[SmsMessage] = []
        self.error = error
        self.hang = hang

    async def send(self, message: SmsMessage) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        self.sent.append(message)


def asking_for_sms(
    w: PayoutWorld, *, phone: str | None = "13812345678", account: str | None = None
) -> Payout:
    payout = stored_payout(w, PayoutStatus.APPROVED)
    application = replace(payout.application, send_sms=True, sms_phone=phone)
    if account is not None:
        application = replace(application, payee_account=account)
    payout = replace(payout, application=application)
    w.storage.state.payouts[payout.id] = payout
    return payout


async def follow(w: PayoutWorld, texts: PayeeTexts, status: PaymentStatus, payout: Payout) -> None:
    async with w.storage.uow() as uow:
        await PayoutResultListener(texts)(uow, payment_of(payout.id, status))
        await uow.commit()


def texts_with(sender: RecordingSender, counts: list[str]) -> PayeeTexts:
    return PayeeTexts(sender, counted=counts.append, timeout=0.05)


async def test_a_paid_payout_that_asked_for_it_texts_its_payee_once() -> None:
    w, sender, counts = payout_world(), RecordingSender(), []
    payout = asking_for_sms(w)
    await follow(w, texts_with(sender, counts), PaymentStatus.SUCCEEDED, payout)
    await follow(w, texts_with(sender, counts), PaymentStatus.SUCCEEDED, payout)  # repeated answer
    [message] = sender.sent
    assert (message.phone, message.reference) == ("13812345678", payout.id)
    assert "12.30" in message.text and counts == ["sent"]


async def test_no_sms_before_the_payout_is_paid_or_when_it_fails() -> None:
    w, sender, counts = payout_world(), RecordingSender(), []
    payout = asking_for_sms(w)
    await follow(w, texts_with(sender, counts), PaymentStatus.PROCESSING, payout)
    await follow(w, texts_with(sender, counts), PaymentStatus.FAILED, payout)
    assert sender.sent == [] and counts == []


async def test_no_sms_when_the_application_did_not_ask() -> None:
    w, sender, counts = payout_world(), RecordingSender(), []
    payout = stored_payout(w, PayoutStatus.APPROVED)
    await follow(w, texts_with(sender, counts), PaymentStatus.SUCCEEDED, payout)
    assert sender.sent == [] and counts == []


async def test_a_mobile_payee_account_is_texted_when_no_phone_is_given() -> None:
    w, sender, counts = payout_world(), RecordingSender(), []
    payout = asking_for_sms(w, phone=None, account="13900001111")
    await follow(w, texts_with(sender, counts), PaymentStatus.SUCCEEDED, payout)
    assert [m.phone for m in sender.sent] == ["13900001111"]


async def test_no_phone_at_all_is_counted_and_the_payout_is_paid() -> None:
    w, sender, counts = payout_world(), RecordingSender(), []
    payout = asking_for_sms(w, phone=None)  # the payee account is an e-mail
    await follow(w, texts_with(sender, counts), PaymentStatus.SUCCEEDED, payout)
    assert counts == ["no_phone"] and w.payout(payout.id).status is PayoutStatus.SUCCEEDED


async def test_a_failing_or_hanging_sender_never_fails_the_payout() -> None:
    for sender in (RecordingSender(ConnectionError("sms gateway down")), RecordingSender(hang=True)):
        w, counts = payout_world(), []
        payout = asking_for_sms(w)
        await follow(w, texts_with(sender, counts), PaymentStatus.SUCCEEDED, payout)
        assert counts == ["failed"]
        assert w.payout(payout.id).status is PayoutStatus.SUCCEEDED
        assert w.storage.state.events() == ["payout.succeeded"]


# -- sent after the commit, at most once -----------------------------------------------------
class LaterStepFailed(Exception):
    """A step after the listener, in the same transaction, fails: the transaction rolls back."""


class WatchingSender(RecordingSender):
    """Notes, as each send starts, how many units of work had committed and the payout's
    committed status; `started` is set then."""

    def __init__(self, w: PayoutWorld, payout_id: str, *, hang: bool = False) -> None:
        super().__init__(hang=hang)
        self.w, self.payout_id = w, payout_id
        self.seen: list[tuple[int, PayoutStatus]] = []
        self.started = asyncio.Event()

    async def send(self, message: SmsMessage) -> None:
        self.seen.append((self.w.storage.commits, self.w.payout(self.payout_id).status))
        self.started.set()
        await super().send(message)


async def paid_then_rolled_back(w: PayoutWorld, listener: PayoutResultListener, payout: Payout) -> None:
    with pytest.raises(LaterStepFailed):
        async with w.storage.uow() as uow:
            await listener(uow, payment_of(payout.id, PaymentStatus.SUCCEEDED))
            raise LaterStepFailed


async def test_no_sms_when_the_transaction_that_paid_the_payout_rolls_back() -> None:
    w, sender, counts = payout_world(), RecordingSender(), []
    payout = asking_for_sms(w)
    await paid_then_rolled_back(w, PayoutResultListener(texts_with(sender, counts)), payout)
    assert sender.sent == [] and counts == []
    assert w.payout(payout.id).status is PayoutStatus.APPROVED


async def test_the_payee_is_texted_only_after_the_commit() -> None:
    w = payout_world()
    payout = asking_for_sms(w)
    sender, order = WatchingSender(w, payout.id), []
    listener = PayoutResultListener(texts_with(sender, []))
    async with w.storage.uow() as uow:
        await listener(uow, payment_of(payout.id, PaymentStatus.SUCCEEDED))
        order.append("listened")
        await uow.commit()
        order.append("committed")
        assert sender.sent == []
    order.extend("sent" for _ in sender.sent)
    assert order == ["listened", "committed", "sent"]
    assert sender.seen == [(1, PayoutStatus.SUCCEEDED)]


async def test_a_hanging_sender_does_not_hold_the_transaction_open() -> None:
    w = payout_world()
    payout = asking_for_sms(w)
    sender, counts = WatchingSender(w, payout.id, hang=True), []
    texts = PayeeTexts(sender, counted=counts.append, timeout=60)
    following = asyncio.create_task(follow(w, texts, PaymentStatus.SUCCEEDED, payout))
    await asyncio.wait_for(sender.started.wait(), 5)
    # the send hangs, but the payout is paid and committed already: it started after the commit
    assert sender.seen == [(1, PayoutStatus.SUCCEEDED)] and w.storage.state.events() == ["payout.succeeded"]
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following
    assert w.payout(payout.id).status is PayoutStatus.SUCCEEDED


async def test_a_result_applied_again_after_a_rolled_back_one_texts_once() -> None:
    w, sender, counts = payout_world(), RecordingSender(), []
    payout = asking_for_sms(w)
    listener = PayoutResultListener(texts_with(sender, counts))
    await paid_then_rolled_back(w, listener, payout)
    for _ in range(2):  # applied again and committed, then repeated: the payout is final
        async with w.storage.uow() as uow:
            await listener(uow, payment_of(payout.id, PaymentStatus.SUCCEEDED))
            await uow.commit()
    assert [m.reference for m in sender.sent] == [payout.id] and counts == ["sent"]
