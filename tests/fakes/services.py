"""The real payment service over the fakes (storage, channels, flow log, clock), as the
workflows' unit tests wire it; and the clock and accounts those tests start from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.ledger import AccountKind, AccountView, BankCard, NewAccount, SubAccount
from core.money import Money
from core.payments.routing import Router, RoutingRule
from core.usecases.payments.channels import ChannelAccess
from core.usecases.payments.commands import PaymentCommand, PaymentListener
from core.usecases.payments.policy import PaymentPolicy, QuerySchedule
from core.usecases.payments.service import PaymentService
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail
from fakes.storage import FakeAccount, FakeFlowLog, FakeState, FakeStorage
from ports.channels import Channel

START = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """A clock that moves `step` forward on every reading (set `now` to jump)."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(milliseconds=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def seed_account(
    storage: FakeStorage,
    account_id: str,
    app_id: str | None = "app",
    *,
    currency: str = "CNY",
    kind: AccountKind = AccountKind.CUSTOMER,
    owner: str | None = None,
    available: int = 0,
    overdraft: bool = False,
    card: BankCard | None = None,
) -> AccountView:
    """An account in the committed state, with `available` minor units on it."""
    view = AccountView(
        account_id, owner or f"owner of {account_id}", kind, currency, allow_overdraft=overdraft
    )
    account = FakeAccount(NewAccount(view, app_id, card), START)
    account.balances[SubAccount.AVAILABLE] = available
    storage.state.accounts[account_id] = account
    return view


@dataclass
class PaymentHarness:
    service: PaymentService
    storage: FakeStorage
    flow: FakeFlowLog
    clock: Clock

    @property
    def state(self) -> FakeState:
        return self.storage.state

    def nodes(self, subject_id: str) -> list[str]:
        return [r.node.value for r in self.flow.records if r.subject_id == subject_id]


def payment_service(
    *channels: Channel,
    storage: FakeStorage | None = None,
    listeners: Sequence[PaymentListener] = (),
    limit: str | None = None,
    steps: tuple[int, ...] = (10, 60),
    timeout: float = 30.0,
    rules: Sequence[RoutingRule] | None = None,
    clock: Clock | None = None,
    flow: FakeFlowLog | None = None,
) -> PaymentHarness:
    """A PaymentService over fake storage; each channel takes its pay methods unless `rules`."""
    storage = storage or FakeStorage()
    flow = flow or FakeFlowLog(storage)
    clock = clock or Clock()
    if rules is None:
        rules = [RoutingRule(pay_method=m, channel=c.code) for c in channels for m in sorted(c.pay_methods)]
    router = Router(list(rules), {c.code: c.capability for c in channels})
    service = PaymentService(
        PaymentStorage(storage.uow, storage.uow, storage.transactions()),
        ChannelAccess(router, {c.code: c for c in channels}, timeout=timeout),
        PaymentPolicy(
            max_amounts={"CNY": Decimal(limit)} if limit else {},
            schedules={},
            default_schedule=QuerySchedule(steps, 3600),
        ),
        PaymentTrail(flow, clock),
        listeners,
    )
    return PaymentHarness(service, storage, flow, clock)


def command(out_request_no: str = "r-1", amount: int = 1_000, **changes: Any) -> PaymentCommand:
    """A bank payment of app `app` (change any field)."""
    fields: dict[str, Any] = {
        "app_id": "app",
        "out_request_no": out_request_no,
        "request_hash": f"hash-{out_request_no}",
        "pay_method": "bank",
        "amount": Money(amount, "CNY"),
        "payer_account": None,
        "payee_account": "6222000011112222",
    }
    return PaymentCommand(**{**fields, **changes})
