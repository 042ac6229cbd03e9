"""The workflows' use cases wired over the fakes, as the gateway's container wires them over the
real storage: one `FakeStorage`, the real `PaymentService` with the workflow's listener, fake
channels, a fake flow log and a stepping clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.bills.model import Bill
from core.bills.risk import BillLimits
from core.lease.order import LeaseOrder
from core.ledger import AccountStatus, BankCard
from core.money import Money
from core.payouts.model import Payout
from core.usecases.bills.actions import BillActions
from core.usecases.bills.bank import BillBank
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.checking import BillChecker
from core.usecases.bills.context import BillContext
from core.usecases.bills.intake import BillIntake
from core.usecases.bills.listener import BillPaymentListener, DueBills
from core.usecases.bills.policy import BillPolicy
from core.usecases.bills.recovery import BillRecovery
from core.usecases.bills.requests import BillRequest
from core.usecases.bills.sending import BillSending
from core.usecases.lease.book import LeaseBook
from core.usecases.lease.channel import LeaseChannelCalls
from core.usecases.lease.listener import LeasePaymentListener
from core.usecases.lease.policy import LeasePolicy
from core.usecases.payouts.context import PayoutContext
from core.usecases.payouts.listener import PayoutResultListener
from fakes.channels import FakeLeasePort, FakeSigningPort, ScriptedPort, external, lease_channel
from fakes.services import Clock, PaymentHarness, payment_service, seed_account
from fakes.storage import FakeFlowLog, FakeStorage
from ports.channels import ChannelResult, ChannelStatus

PAYOUT_TIME = datetime(2024, 5, 20, 8, 0, tzinfo=UTC)
LEASE_TIME = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@dataclass
class PayoutWorld:
    storage: FakeStorage
    pay: PaymentHarness
    port: ScriptedPort
    flow: FakeFlowLog
    ctx: PayoutContext

    def payout(self, payout_id: str) -> Payout:
        return self.storage.state.payouts[payout_id]

    async def pay_approved(self) -> int:
        """The payout worker's round: the approved payouts' payments (off the approving call)."""
        from core.usecases.payouts.recovery import PayoutRecovery

        return await PayoutRecovery(self.ctx).run_once(50)


def payout_world(*answers: ChannelResult, routed: bool = True) -> PayoutWorld:
    """The payout use cases over the fakes; their payments go to an alipay channel answering
    `answers` (processing by default); `routed=False`: no rule routes them (refused)."""
    storage = FakeStorage(frozenset({"app_1"}))
    flow = FakeFlowLog(storage)
    clock = Clock(PAYOUT_TIME, timedelta(0))
    port = ScriptedPort(*(answers or (ChannelResult(ChannelStatus.PROCESSING, channel_ref="T-1"),)))
    channel = external(port, code="alipay_payout", pay_methods=frozenset({"alipay"}))
    pay = payment_service(
        channel,
        storage=storage,
        listeners=[PayoutResultListener()],
        rules=None if routed else [],
        clock=clock,
        flow=flow,
    )
    ctx = PayoutContext(storage.uow, storage.uow, pay.service, flow, clock)
    return PayoutWorld(storage, pay, port, flow, ctx)


@dataclass
class LeaseWorld:
    """The lease book and channel calls over the fakes, the ant_lease channel's lease port
    `port` and its deductions' payment port `deductions`."""

    storage: FakeStorage
    port: FakeLeasePort
    deductions: ScriptedPort
    signing: FakeSigningPort
    pay: PaymentHarness
    book: LeaseBook
    calls: LeaseChannelCalls
    policy: LeasePolicy

    @property
    def orders(self) -> dict[str, LeaseOrder]:
        return self.storage.state.lease_orders

    def events(self) -> list[str]:
        return self.storage.state.events()


def lease_world(
    *orders: LeaseOrder, policy: LeasePolicy | None = None, clock: Clock | None = None
) -> LeaseWorld:
    """The lease use cases' shared parts over the fakes with `orders` stored, the clock stopped
    at LEASE_TIME unless given; deductions answer processing unless `deductions.answers` is set."""
    storage = FakeStorage(frozenset({"shop"}))
    for order in orders:
        storage.state.lease_orders[order.id] = order
    clock = clock or Clock(LEASE_TIME, timedelta(0))
    flow = FakeFlowLog(storage)
    port, deductions = FakeLeasePort(), ScriptedPort(ChannelResult(ChannelStatus.PROCESSING))
    signing = FakeSigningPort()
    policy = policy or LeasePolicy()
    listener = LeasePaymentListener(policy)
    channel = lease_channel(port, deductions, signing=signing)
    pay = payment_service(channel, storage=storage, listeners=[listener], clock=clock, flow=flow)
    book = LeaseBook(storage.uow, flow, clock=clock)
    calls = LeaseChannelCalls(book, pay.service)
    return LeaseWorld(storage, port, deductions, signing, pay, book, calls, policy)


BILL_APP = "app1"
APPLICANT = "emp1"
APPLICANT_CARD = "6225880011112222"
COMPANY_CARD = "9550880000000001"
BILL_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BILL_LIMITS = BillLimits(
    max_loan_amount={"CNY": Decimal("50000")},
    max_reimbursement_amount={"CNY": Decimal("100000")},
    max_open_loans=2,
    max_linked_loans=3,
)


@dataclass
class BillWorld:
    """The bill use cases over the fakes; bank attempts go to a bank channel answering from
    `bank` (succeeded unless told otherwise)."""

    storage: FakeStorage
    flow: FakeFlowLog
    bank: ScriptedPort
    pay: PaymentHarness
    ctx: BillContext
    checker: BillChecker
    business: BillBusiness
    bank_attempts: BillBank
    intake: BillIntake
    actions: BillActions
    recovery: BillRecovery
    sending: BillSending

    async def send(self) -> int:
        """The send worker's round: the bank attempts intake and resend_bank committed."""
        return await self.sending.send_due(50, "test-worker")

    async def poll(self) -> int:
        """The query poller's round: each payment due for query at the clock's time, asked once."""
        state, now = self.storage.state, self.pay.clock.now
        due = [
            (state.payments[payment_id], int(schedule.get("query_attempts", 0)))
            for payment_id, schedule in state.schedules.items()
            if schedule.get("next_query_at") is not None and schedule["next_query_at"] <= now
        ]
        for payment, attempts in due:
            await self.pay.service.resolve(payment, attempts)
        return len(due)

    async def submit(self, request: BillRequest) -> Bill:
        """Intake, then the send worker's round (what a served gateway does right after)."""
        bill, _ = await self.intake.submit(request)
        await self.send()
        return self.bill(bill.id)

    def bill(self, bill_id: str) -> Bill:
        return self.storage.state.bills[bill_id]

    def events(self) -> list[tuple[str, str]]:
        return [(e["event_type"], e["subject_id"]) for e in self.storage.state.outbox]

    def postings(self, subject_id: str) -> list[tuple[str, Money]]:
        """The ledger legs posted for `subject_id`, in order: (account, amount)."""
        state = self.storage.state
        return [
            (e.posting.account_id, e.posting.amount)
            for e in state.entries
            if state.txns[e.txn_id] == subject_id
        ]

    def set_applicant_status(self, status: AccountStatus) -> None:
        account = self.storage.state.accounts[APPLICANT]
        view = replace(account.opened.view, status=status)
        account.opened = replace(account.opened, view=view)


def bill_world(*bank_answers: ChannelResult) -> BillWorld:
    storage = FakeStorage(frozenset({BILL_APP}))
    seed_account(
        storage, APPLICANT, BILL_APP, owner="Zhang San", card=BankCard(APPLICANT_CARD, "Zhang San", "SPDB")
    )
    flow = FakeFlowLog(storage)
    clock = Clock(BILL_TIME, timedelta(seconds=1))
    bank = ScriptedPort(*(bank_answers or (ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="E-1"),)))
    due = DueBills()
    listener = BillPaymentListener(due)
    pay = payment_service(
        external(bank, code="spdb"), storage=storage, listeners=[listener], clock=clock, flow=flow
    )
    ctx = BillContext(
        storage.uow, flow, BillPolicy(BILL_LIMITS, payer_card_no=COMPANY_CARD), due, clock=clock
    )
    checker = BillChecker(ctx)
    business = BillBusiness(ctx)
    attempts = BillBank(ctx, pay.service, business)
    intake = BillIntake(ctx, checker, business)
    actions = BillActions(ctx, checker, intake, attempts, business)
    recovery = BillRecovery(ctx, business)
    sending = BillSending(ctx, attempts)
    return BillWorld(
        storage, flow, bank, pay, ctx, checker, business, attempts, intake, actions, recovery, sending
    )
