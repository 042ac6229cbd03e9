"""The lease worker's round: collect what is due, and continue what a crash or an unknown answer
left behind (pre-orders never confirmed, contracts waiting for 落签, attempts never submitted),
asking a channel that keeps failing again only after a growing wait."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from core.lease.order import LeaseOrder
from core.lease.status import ContractStatus, OrderStatus, PeriodStatus
from core.usecases.lease.book import LeaseBook
from core.usecases.lease.claims import ClaimedMoves, pending_moves
from core.usecases.lease.collection import RentCollection
from core.usecases.lease.orders import LeaseOrderService
from core.usecases.lease.policy import LeasePolicy
from core.usecases.lease.signing import ContractSigning

log = logging.getLogger("paygate.lease")


class Backoff:
    """The worker's wait before asking the channel again about one thing (a pre-order, a 落签,
    an attempt): after each failure it doubles from `first`, up to `most`. Kept in memory: a
    restart forgets it, which costs one early call, never a wrong one."""

    def __init__(self, first: timedelta, most: timedelta = timedelta(hours=1)) -> None:
        self.first = first
        self.most = most
        self._state: dict[str, tuple[int, datetime]] = {}

    def due(self, key: str, now: datetime) -> bool:
        state = self._state.get(key)
        return state is None or state[1] <= now

    def failed(self, key: str, now: datetime) -> None:
        failures = self._state.get(key, (0, now))[0] + 1
        wait = min(self.first * 2 ** (failures - 1), self.most)
        self._state[key] = (failures, now + wait)

    def succeeded(self, key: str) -> None:
        self._state.pop(key, None)


def _synced(order: LeaseOrder) -> bool:
    return order.status is not OrderStatus.CREATED


def _finalised(order: LeaseOrder) -> bool:
    return order.contract.status is ContractStatus.FINALISED


def _resolved(no: int) -> Callable[[LeaseOrder], bool]:
    """Whether period `no` has left collecting (its attempt was answered)."""
    return lambda order: order.period(no).status is not PeriodStatus.COLLECTING


def _settled(order: LeaseOrder) -> bool:
    """Whether the channel settled every close, plan cancellation and unsign claimed on it."""
    return not pending_moves(order)


class LeaseRecovery:
    """One round of the lease worker. All state is in the lease tables; only the back-off is
    in memory."""

    def __init__(
        self,
        book: LeaseBook,
        orders: LeaseOrderService,
        contract: ContractSigning,
        collection: RentCollection,
        policy: LeasePolicy,
    ) -> None:
        self.book = book
        self.orders = orders
        self.contract = contract
        self.collection = collection
        self.policy = policy
        self.backoff = Backoff(policy.resync_after)
        self.claims = ClaimedMoves(book, contract.calls)

    async def run_once(self, limit: int, now: datetime | None = None) -> int:
        """Collect what is due, and continue what a crash or an unknown answer left behind:
        pre-orders never confirmed, contracts waiting for 落签, attempts never submitted, and
        closes, plan cancellations and unsigns claimed but never settled by the channel.
        A channel that keeps failing one of these is asked again after a growing wait."""
        now = now or self.book.clock()
        done = await self.collection.collect_due(limit, now)
        async with self.book.reads() as uow:
            repo = uow.lease_orders
            unsynced = await repo.unsynced(now - self.policy.resync_after, limit)
            to_finalise = await repo.ready_to_finalise(limit)
            stale = await repo.stale_attempts(now - self.policy.resubmit_after, limit)
            claimed = await repo.claimed(now - self.policy.resync_after, limit)
        for order_id in unsynced:
            done += await self._retried(f"sync/{order_id}", now, self.orders.sync(order_id), _synced)
        for order_id in to_finalise:
            done += await self._retried(
                f"finalise/{order_id}", now, self.contract.finalise(order_id), _finalised
            )
        for a in stale:
            done += await self._retried(
                f"attempt/{a.order_id}/{a.period_no}/{a.attempt}",
                now,
                self.collection.recover_attempt(a.order_id, a.period_no, a.attempt),
                _resolved(a.period_no),
            )
        for order_id in claimed:
            done += await self._retried(f"claim/{order_id}", now, self.claims.resume(order_id), _settled)
        return done

    async def _retried(
        self,
        key: str,
        now: datetime,
        step: Coroutine[Any, Any, LeaseOrder],
        done: Callable[[LeaseOrder], bool],
    ) -> int:
        if not self.backoff.due(key, now):
            step.close()  # never awaited: nothing is sent
            return 0
        try:
            order = await step
        except Exception:
            log.exception("lease worker step failed", extra={"step": key})
            self.backoff.failed(key, now)
            return 0
        if done(order):
            self.backoff.succeeded(key)
            return 1
        self.backoff.failed(key, now)
        return 0
