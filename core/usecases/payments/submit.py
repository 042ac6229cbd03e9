"""Submitting a payment: limits, routing, idempotency, then the ledger's atomic path or an external
channel's (saved first, then called, its answer applied)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.errors import DomainError, IdempotencyConflict, NoRoute, NotFound
from core.flowlog import FlowNode, FlowRecord
from core.ids import new_id
from core.payments.model import Payment, PaymentStatus
from core.payments.routing import RouteDecision
from core.usecases.payments.channels import ChannelAccess, channel_request
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payments.policy import PaymentPolicy
from core.usecases.payments.results import PaymentResults
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail, Step
from ports.channels import Channel
from ports.storage import DuplicateRequest, LedgerWork


def new_payment(cmd: PaymentCommand, channel: str, now: datetime) -> Payment:
    return Payment(
        id=new_id("pay"),
        app_id=cmd.app_id,
        out_request_no=cmd.out_request_no,
        request_hash=cmd.request_hash,
        pay_method=cmd.pay_method,
        channel=channel,
        amount=cmd.amount,
        payer_account=cmd.payer_account,
        payee_account=cmd.payee_account,
        status=PaymentStatus.CREATED,
        created_at=now,
        updated_at=now,
        business_type=cmd.business_type,
        memo=cmd.memo,
        details=dict(cmd.details),
    )


def arrival_steps(
    cmd: PaymentCommand, limit: Decimal | None, channel: str, decision: RouteDecision
) -> list[Step]:
    """The flow-log nodes of a request that passed its checks and was routed."""
    rule_detail: dict[str, object] = dict(decision.explain()["rule"])  # type: ignore[call-overload]
    return [
        (FlowNode.ACCEPTED, "request accepted", {"app_id": cmd.app_id, "out_request_no": cmd.out_request_no}),
        (FlowNode.VALIDATED, "validation passed", {}),
        (FlowNode.RISK_CHECKED, "risk checks passed", {"limit": str(limit) if limit else None}),
        (FlowNode.ROUTED, f"routed to {channel}", rule_detail),
    ]


def same_request(existing: Payment, cmd: PaymentCommand) -> Payment:
    """The stored payment of a repeated request; the same number with another body is a conflict."""
    if existing.request_hash != cmd.request_hash:
        raise IdempotencyConflict(
            f"out_request_no {cmd.out_request_no!r} was already used with a different body",
            field="out_request_no",
        )
    return existing


class PaymentSubmission:
    """`submit`: a new payment of a caller app, or the first result of a repeated request."""

    def __init__(
        self,
        storage: PaymentStorage,
        access: ChannelAccess,
        policy: PaymentPolicy,
        trail: PaymentTrail,
        results: PaymentResults,
    ) -> None:
        self.storage = storage
        self.access = access
        self.policy = policy
        self.trail = trail
        self.results = results

    async def submit(self, cmd: PaymentCommand) -> tuple[Payment, bool]:
        """Returns (payment, created). A repeat of the same request returns the first result."""
        try:
            return await self._submit(cmd)
        except DomainError:
            # A refused request may be the repeat of one that was done before (and would now be
            # refused: the money has moved, a limit changed): the first result wins.
            existing = await self.storage.by_request_no(cmd.app_id, cmd.out_request_no)
            if existing is None:
                raise
            return same_request(existing, cmd), False

    async def _submit(self, cmd: PaymentCommand) -> tuple[Payment, bool]:
        self.policy.check_pay_method(cmd.app_id, cmd.pay_method, cmd.submitter)
        limit = self.policy.check_limit(cmd.amount)
        channel, decision = self.access.route(cmd)
        if not channel.atomic:
            # An atomic channel's insert finds a repeat inside its own transaction; for the
            # others, a repeat must be found before the channel is called again.
            existing = await self.storage.by_request_no(cmd.app_id, cmd.out_request_no)
            if existing is not None:
                return same_request(existing, cmd), False
        if channel.atomic and cmd.ledger_accounts:
            await self._check_ownership(cmd)
        payment = new_payment(cmd, channel.code, self.trail.clock())
        steps = arrival_steps(cmd, limit, channel.code, decision)
        if channel.atomic:
            return await self._submit_atomic(channel, payment, cmd, steps)
        return await self._submit_external(channel, payment, cmd, steps)

    async def _first_result(self, cmd: PaymentCommand) -> Payment:
        """A concurrent duplicate lost the insert race: answer with the winner's payment."""
        existing = await self.storage.by_request_no(cmd.app_id, cmd.out_request_no)
        assert existing is not None, "a duplicate insert implies a stored payment"
        return same_request(existing, cmd)

    async def _check_ownership(self, cmd: PaymentCommand) -> None:
        """A ledger payment may only name accounts of the calling app (others' are a 404)."""
        visible = await self.storage.visible_accounts(cmd.app_id, cmd.ledger_accounts)
        missing = [a for a in cmd.ledger_accounts if a not in visible]
        if missing:
            field = (
                "payer_account"
                if missing[0] == cmd.payer_account
                else "payee_account"
                if missing[0] == cmd.payee_account
                else None
            )
            raise NotFound(f"account {missing[0]} does not exist", code="ACCOUNT_NOT_FOUND", field=field)

    async def _submit_atomic(
        self, channel: Channel, payment: Payment, cmd: PaymentCommand, steps: list[Step]
    ) -> tuple[Payment, bool]:
        """The ledger: answered at once, committed with its postings and final state together."""
        assert channel.payment is not None
        if self.results.followed(payment):
            # a workflow's record moves only in a whole unit of work, which the ledger's
            # transaction is not (on SQLite it runs on the writer thread over plain sqlite3)
            raise NoRoute(
                f"channel {channel.code} settles in the ledger's own transaction, which cannot "
                "carry this payment's workflow: route it to another channel"
            )
        result = await channel.payment.submit(channel_request(payment))
        now = self.trail.clock()
        accepted = payment.created_at

        def nodes(final: Payment) -> list[FlowRecord]:
            # the request's nodes at its arrival, the answer's at the commit (one time each,
            # taken once); they say the payment was settled, so they commit with it or not at all
            return [
                *self.trail.step_nodes(payment.id, steps, at=accepted),
                self.trail.node(
                    payment.id, FlowNode.CHANNEL_REQUEST, message=f"{channel.code} submit", at=accepted
                ),
                *self.trail.result_nodes(final, result, at=now),
            ]

        async def commit(work: LedgerWork) -> Payment:
            # inserted in its final state; a repeat fails that insert (DuplicateRequest) and
            # rolls back the whole transaction, postings and flow nodes included
            return await self.results.settle(work, payment, result, now, nodes)

        try:
            final = await self.storage.transact(commit)
        except DuplicateRequest:
            return await self._first_result(cmd), False
        return final, True

    async def _submit_external(
        self, channel: Channel, payment: Payment, cmd: PaymentCommand, steps: list[Step]
    ) -> tuple[Payment, bool]:
        """Saved before the channel is called, so a crash leaves a payment to query, never a lost one."""
        try:
            async with self.storage.uow() as uow:
                await uow.payments.add(payment)
                await uow.commit()
        except DuplicateRequest:
            return await self._first_result(cmd), False
        self.trail.steps(payment.id, steps)
        self.trail.record(payment.id, FlowNode.REQUEST_SAVED, message="payment saved before the channel call")
        self.trail.record(payment.id, FlowNode.CHANNEL_REQUEST, message=f"{channel.code} submit")
        result = await self.access.submit(channel, payment)
        return await self.results.apply_result(payment.id, result, via="submit"), True
