"""The SMS a payout application asks for (seed 001 `sms`): sent through the notification port
once the payout is paid, to the given phone or a mobile payee account; a failing sender never
fails the payout."""

from __future__ import annotations

import asyncio
from dataclasses import replace

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
