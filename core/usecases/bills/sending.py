"""The bill send worker's round: each bank attempt committed bank_submitted is claimed, then sent.

No caller waits on the bank: intake and resend_bank commit the attempt (bank_submitted), queue the
bill in `BillContext.sends` and answer; this round sends the 8801 call. A worker first claims the
attempt with one conditional update on the bill row (`BillRepository.claim_attempt`), so two
workers (threads of one process, or gateway processes sharing a database) never send one attempt
twice; a claim lasts `BillPolicy.resubmit_after`, longer than the bank call, and a worker that
stopped around the call is replaced once it has expired. The attempt's payment id (the bank's
elecChequeNo) is fixed when its payment is first saved: an attempt never saved is sent by the next
claim under the same out_request_no; one saved whose answer was lost is only queried (8804).
"""

from __future__ import annotations

import asyncio
import logging

from core.bills.model import Bill, BillStatus
from core.usecases.bills.bank import BillBank
from core.usecases.bills.context import BillContext
from core.usecases.bills.listener import DueBills

log = logging.getLogger("paygate.bills")


class BillSending:
    """Sends the bank attempts that intake and resend_bank committed, each once, off the request."""

    def __init__(self, ctx: BillContext, bank: BillBank) -> None:
        self.ctx = ctx
        self.bank = bank

    @property
    def queue(self) -> DueBills:
        """The attempts committed in this process; the send worker wakes on its event."""
        return self.ctx.sends

    async def send_due(self, limit: int, holder: str) -> int:
        """Claim and send the attempts just queued here and every one the database shows
        unclaimed (another process's, or left by a worker that stopped); how many were sent."""
        bills = await self._due(limit)
        sent = await asyncio.gather(*(self._send(bill, holder) for bill in bills))
        return sum(sent)

    async def _due(self, limit: int) -> list[Bill]:
        woken = self.ctx.sends.take()
        async with self.ctx.reads() as uow:
            repo = uow.bills
            found = {b.id: b for b in await repo.attempts_to_send(self.ctx.clock(), limit)}
            for bill_id in woken:
                if bill_id not in found and (bill := await repo.get(bill_id)) is not None:
                    found[bill_id] = bill
        return [b for b in found.values() if b.status is BillStatus.BANK_SUBMITTED]

    async def _send(self, bill: Bill, holder: str) -> bool:
        try:
            if not await self._claim(bill, holder):
                return False  # another worker holds it, or the bill moved on
            await self.bank.recover_attempt(bill)
        except Exception:
            log.exception("bank attempt not sent", extra={"bill_id": bill.id, "attempt": bill.attempt})
            return False
        return True

    async def _claim(self, bill: Bill, holder: str) -> bool:
        now = self.ctx.clock()
        async with self.ctx.uow() as uow:
            claimed = await uow.bills.claim_attempt(
                bill.id, bill.attempt, holder=holder, until=now + self.ctx.policy.resubmit_after, now=now
            )
            await uow.commit()
        return claimed
