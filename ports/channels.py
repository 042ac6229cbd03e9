"""The four channel ports (signing, payment, query, notification) and what they exchange."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.ledger import AccountView, Posting
from core.money import Money
from core.payments.routing import ChannelCapability


class ChannelStatus(enum.StrEnum):
    """A channel's answer mapped to the platform's vocabulary."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"  # definite: a listed refusal or a verified final answer; nothing was paid
    PROCESSING = "processing"
    UNKNOWN = "unknown"  # timeout, unverifiable answer, system error: only a query may resolve it
    # paid, then the money came back (a bank card bounce): a late fact about a payment that
    # succeeded, never a failure of it; the payment stays succeeded, its workflow learns it
    RETURNED = "returned"


class Port(enum.StrEnum):
    SIGNING = "signing"
    PAYMENT = "payment"
    QUERY = "query"
    NOTIFICATION = "notification"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What the platform asks a channel to pay. `payment_id` is the channel-side idempotency key:
    a resend with the same id must never pay twice."""

    payment_id: str
    app_id: str
    pay_method: str
    amount: Money
    payer_account: str | None
    payee_account: str | None
    business_type: str | None = None
    memo: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeferredPostings:
    """Postings a settlement worker applies later, in `order` (trade before fee)."""

    order: int
    kind: str
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """A channel's answer. `postings` are applied to the ledger atomically with a SUCCEEDED state."""

    status: ChannelStatus
    channel_ref: str | None = None
    code: str | None = None
    message: str | None = None
    postings: tuple[Posting, ...] = ()
    deferred: tuple[DeferredPostings, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    # what went over the wire, masked, for the exchange log (bank_req_source & co.)
    exchanges: tuple[Exchange, ...] = ()
    # a query's definite "the channel has no order under this payment id" (Alipay's
    # ORDER_NOT_EXIST), with status UNKNOWN: an order may not be visible yet, so only once the
    # request's deadline has passed does it prove the request never arrived (then it is resent)
    order_not_found: bool = False


@dataclass(frozen=True, slots=True)
class Exchange:
    """One masked request/answer pair with a channel, kept for monitoring and disputes."""

    operation: str
    request: str
    response: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """A verified channel callback that is not about a payment: an agreement signed or
    unsigned, a contract signed ... `kind` names it (e.g. `lease.agreement_signed`), `data`
    carries the channel's fields in the platform's words."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChannelNotification:
    """A verified channel callback: about one payment (by the platform's payment id, with the
    channel's `result`), or, with `event`, about something else the channel manages.

    `amount` and `payee` are what the notice says about the payment, when it says it: a notice
    whose amount (or currency, or payee) differs from the stored payment's is refused."""

    payment_id: str | None
    result: ChannelResult | None = None
    reply_body: str = "success"
    event: ChannelEvent | None = None
    amount: Money | None = None
    payee: str | None = None

    def __post_init__(self) -> None:
        about_payment = self.payment_id is not None and self.result is not None
        if about_payment == (self.event is not None):
            raise ValueError("a notification is about a payment (id and result) or carries an event")


@runtime_checkable
class ChannelEventHandler(Protocol):
    async def on_channel_event(self, channel: str, event: ChannelEvent) -> bool:
        """Apply a verified channel event (idempotently: channels repeat their callbacks);
        return False when the event is not of a kind this handler manages."""
        ...


class NotificationRejected(Exception):
    """A channel callback failed verification: it must change nothing."""


class ChannelCallError(Exception):
    """A payment or query call that did not get the channel's answer, with a `code` saying why."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class RequestNotSent(ChannelCallError):
    """The adapter is sure no byte of the request left the gateway: the request failed
    validation or serialisation, a setting it needs is missing, no connection was opened.
    A submit that raises it makes the payment `failed` with `code`; nothing is queried."""


class OutcomeUnknown(ChannelCallError):
    """The request may have reached the channel but its answer was lost or is unreadable (a
    read timeout, a dropped connection, a garbled or unverifiable answer). A submit that
    raises it leaves the payment `unknown` with `code`, resolved by query only."""


@runtime_checkable
class PaymentPort(Protocol):
    """Sends payments. How an adapter says that a submit got no answer:

    - `RequestNotSent` when it is sure nothing was sent: the payment fails with its code;
    - `OutcomeUnknown`, any other exception, or no answer within the gateway's deadline
      otherwise: the payment is `unknown` and resolved by query (the channel may have paid).

    Raise `RequestNotSent` only before the first byte goes out: once a request may have
    left, a failure is unknown, never failed.
    """

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        """Send the payment. Must be idempotent on `request.payment_id` at the channel."""
        ...


@runtime_checkable
class QueryPort(Protocol):
    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        """Ask the channel for the outcome of an earlier submit; never submits anything."""
        ...


@runtime_checkable
class NotificationPort(Protocol):
    async def verify_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        """Verify and parse a channel callback; raise NotificationRejected when it fails."""
        ...


@runtime_checkable
class CancelPort(Protocol):
    async def cancel(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        """Close at the channel an order whose outcome is not known, so that it can never be
        paid later (Alipay's `alipay.trade.cancel` for a `trade.pay`). Answers FAILED when the
        order is closed unpaid, provably never existed, or was paid and the cancel refunded it
        (the money went back: nothing was collected; its code says which); SUCCEEDED only for a
        channel whose cancel cannot undo a payment that went through; UNKNOWN when the channel
        gives no definite answer. Idempotent on `request.payment_id`."""
        ...


@dataclass(frozen=True, slots=True)
class SigningRequest:
    subject_id: str
    app_id: str
    kind: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SigningResult:
    """Where a signing stands: PROCESSING with the `sign_url` the user must open, SUCCEEDED
    with the channel's `agreement_ref`, FAILED with a `code`, or UNKNOWN (ask again)."""

    status: ChannelStatus
    sign_url: str | None = None
    agreement_ref: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    code: str | None = None
    message: str | None = None
    exchanges: tuple[Exchange, ...] = ()


@runtime_checkable
class SigningPort(Protocol):
    async def start_signing(self, request: SigningRequest) -> SigningResult:
        """Start an agreement or contract signing; returns what the user must open."""
        ...

    async def query_signing(self, request: SigningRequest) -> SigningResult:
        """Ask the channel where a signing stands."""
        ...


class AccountDirectory(Protocol):
    """Read access to the platform's virtual accounts, for channels that need their rules."""

    async def get_accounts(self, ids: Sequence[str]) -> dict[str, AccountView]: ...


@dataclass(frozen=True, slots=True)
class ChannelServices:
    """What the gateway hands every channel plugin when it builds its adapters."""

    accounts: AccountDirectory


@dataclass
class Channel:
    """An installed channel: its code, what it can do, and the adapters behind its ports.

    `atomic` channels (the internal ledger) answer without side effects outside the platform,
    so the gateway may commit the payment, its ledger postings and its final state together.
    """

    code: str
    pay_methods: frozenset[str]
    currencies: frozenset[str]
    payment: PaymentPort | None = None
    query: QueryPort | None = None
    notification: NotificationPort | None = None
    signing: SigningPort | None = None
    # closes an order whose outcome stays unknown before an operator fails it (Ant Lease)
    cancel: CancelPort | None = None
    atomic: bool = False
    description: str = ""
    # seconds to wait before each query of a processing/unknown payment; None: gateway default
    query_schedule_seconds: tuple[int, ...] | None = None
    # released when the gateway stops (HTTP sessions and the like)
    close: Callable[[], Awaitable[None]] | None = None
    # ports beyond the four, by name, for workflows that need them (e.g. "lease": a
    # ports.lease.LeaseChannelPort); the workflow checks the object against its Protocol
    extensions: Mapping[str, object] = field(default_factory=dict)
    # pays only for workflows (payouts, bills, lease), never a caller app's direct payment: the
    # default of every routing rule to it (core/payments/routing.py)
    workflows_only: bool = False
    # the accounts it pays from whatever a request names (a bank's configured payer account):
    # a workflow refuses a payer that is not one of them; empty: the request's payer is used
    payer_accounts: frozenset[str] = frozenset()

    @property
    def ports(self) -> frozenset[str]:
        present = {
            Port.PAYMENT: self.payment,
            Port.QUERY: self.query,
            Port.NOTIFICATION: self.notification,
            Port.SIGNING: self.signing,
        }
        return frozenset(str(port) for port, adapter in present.items() if adapter is not None)

    @property
    def capability(self) -> ChannelCapability:
        return ChannelCapability(
            self.code, self.ports, self.pay_methods, self.currencies, self.workflows_only
        )
