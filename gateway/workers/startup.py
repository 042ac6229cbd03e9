"""Starting the background workers of a served gateway, each with its interval from settings."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from gateway.workers.approvals import ApprovalWorker
from gateway.workers.bill_sends import BillSendWorker
from gateway.workers.bills import BillWorker
from gateway.workers.flow_flush import FlowLogFlusher
from gateway.workers.lease import LeaseWorker
from gateway.workers.leases import RoundLease, holder_id
from gateway.workers.nonce_purge import NoncePurge
from gateway.workers.outbox import OutboxDeliverer
from gateway.workers.payouts import PayoutWorker
from gateway.workers.query_poller import QueryPoller
from gateway.workers.settlement import SettlementWorker

if TYPE_CHECKING:
    from gateway.container import Container

# a nonce outlives its replay window by far at this pace; purging more often gains nothing
NONCE_PURGE_INTERVAL_SECONDS = 60.0


def start_workers(container: Container, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """The flow-log flusher always; the other workers when `workers.enabled`. All end on `stop`."""
    settings = container.settings()
    runs = [FlowLogFlusher(container.flow()).run(settings.workers.flow_flush_interval_seconds, stop)]
    if settings.workers.enabled:
        runs += _background_workers(container, stop)
    return [asyncio.create_task(run) for run in runs]


def _background_workers(container: Container, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
    settings = container.settings()
    interval = settings.workers.poll_interval_seconds
    batch = settings.workers.batch_size
    holder = holder_id()
    deliverer = OutboxDeliverer(
        container.uow,
        settings,
        container.metrics(),
        container.http_session,
        container.clock(),
        holder,
        wake=container.events_committed(),
    )
    return [
        QueryPoller(
            container.engine(),
            container.payments(),
            batch,
            claim_seconds=settings.workers.lease_seconds,
            query_timeout=container.payments().access.timeout,
            wake=container.query_wake(),
        ).run(interval, stop),
        SettlementWorker(container.uow, container.flow(), batch).run(interval, stop),
        deliverer.run(settings.notify.poll_interval_seconds, stop),
        NoncePurge(container.nonces()).run(NONCE_PURGE_INTERVAL_SECONDS, stop),
        BillWorker(container.bill_recovery(), batch, _round_lease(container, "bills", holder)).run(
            interval, stop
        ),
        BillSendWorker(container.bill_sending(), batch, holder).run(interval, stop),
        ApprovalWorker(container.approval_runs(), batch, holder).run(interval, stop),
        LeaseWorker(
            container.lease_recovery(), settings.lease.batch_size, _round_lease(container, "lease", holder)
        ).run(interval, stop),
        PayoutWorker(container.payout_recovery(), batch, _round_lease(container, "payouts", holder)).run(
            interval, stop
        ),
    ]


def _round_lease(container: Container, name: str, holder: str) -> RoundLease | None:
    """On PostgreSQL (several gateway processes may share it) the worker's rounds take turns by
    lease; SQLite serves one gateway process per file, which needs none."""
    settings = container.settings()
    if settings.database.is_sqlite:
        return None
    return RoundLease(container.engine(), name, holder, settings.workers.lease_seconds, container.clock())
