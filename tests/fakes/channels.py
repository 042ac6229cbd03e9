"""Fake channels: a payment/query port answering from a script, and a lease channel that does
what it is asked; with the `Channel` records that install them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.status import CancelReason
from ports.channels import (
    Channel,
    ChannelResult,
    ChannelStatus,
    PaymentRequest,
    SigningRequest,
    SigningResult,
)
from ports.lease import LEASE_EXTENSION, LeaseAnswer


class ScriptedPort:
    """A payment and query port answering from a script (the last answer repeats); `calls` is
    what it was asked; `hang` never answers."""

    def __init__(self, *answers: ChannelResult | BaseException, hang: bool = False) -> None:
        self.answers = list(answers)
        self.hang = hang
        self.calls: list[PaymentRequest] = []
        self.on_call: Callable[[PaymentRequest], None] | None = None

    async def _answer(self, request: PaymentRequest) -> ChannelResult:
        self.calls.append(request)
        if self.on_call is not None:
            self.on_call(request)
        if self.hang:
            await asyncio.Event().wait()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        return await self._answer(request)

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        return await self._answer(request)


def external(
    port: ScriptedPort,
    *,
    code: str = "bank",
    pay_methods: frozenset[str] = frozenset({"bank"}),
    query: bool = True,
) -> Channel:
    """An external channel: its payments are saved first, then submitted, then queried."""
    return Channel(code, pay_methods, frozenset({"CNY"}), payment=port, query=port if query else None)


def ledger(port: ScriptedPort) -> Channel:
    """An atomic channel: its answer is committed with its postings in one ledger transaction."""
    return Channel("ledger", frozenset({"transfer"}), frozenset({"CNY"}), payment=port, atomic=True)


class FakeLeasePort:
    """A lease channel that does whatever it is asked (or answers `answers[name]`) and remembers
    what that was."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.answers: dict[str, LeaseAnswer] = {}
        # run while the call named is at the channel (a concurrent step racing it)
        self.during: dict[str, Callable[[], Awaitable[object]]] = {}

    async def _done(self, name: str) -> LeaseAnswer:
        self.calls.append(name)
        if name in self.during:
            await self.during[name]()
        return self.answers.get(name, LeaseAnswer(ChannelStatus.SUCCEEDED))

    async def sync_order(self, order: LeaseOrder) -> LeaseAnswer:
        return await self._done("sync_order")

    async def query_order(self, order: LeaseOrder, query_type: str) -> LeaseAnswer:
        return await self._done("query_order")

    async def finalise_contract(self, order: LeaseOrder) -> LeaseAnswer:
        return await self._done("finalise_contract")

    async def unsign_agreement(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        return await self._done("unsign_agreement")

    async def confirm_async_unsign(self, order: LeaseOrder, refusal: UnsignRefusal) -> LeaseAnswer:
        return await self._done("confirm_async_unsign")

    async def cancel_plan(self, order: LeaseOrder, reason: CancelReason, note: str) -> LeaseAnswer:
        return await self._done("cancel_plan")

    async def close_order(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        return await self._done("close_order")


class FakeSigningPort:
    """A signing port: every signing is under way at `sign_url` (or answers `answer`)."""

    def __init__(self, answer: SigningResult | None = None) -> None:
        self.answer = answer or SigningResult(ChannelStatus.PROCESSING, sign_url="https://sign.example/page")
        self.requests: list[SigningRequest] = []

    async def start_signing(self, request: SigningRequest) -> SigningResult:
        self.requests.append(request)
        return self.answer

    async def query_signing(self, request: SigningRequest) -> SigningResult:
        self.requests.append(request)
        return self.answer


def lease_channel(
    lease: FakeLeasePort, payment: ScriptedPort | None = None, *, signing: FakeSigningPort | None = None
) -> Channel:
    """The ant_lease channel with `lease` as its lease extension (and `payment` for deductions)."""
    return Channel(
        "ant_lease",
        frozenset({"withholding"}),
        frozenset({"CNY"}),
        payment=payment,
        query=payment,
        signing=signing or FakeSigningPort(),
        extensions={LEASE_EXTENSION: lease},
    )
