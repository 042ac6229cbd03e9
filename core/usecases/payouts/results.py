"""Saving a payout's move, and publishing its final result to the caller in the same transaction."""

from __future__ import annotations

from core.events import PAYOUT_EVENT_OF_STATUS
from core.payouts.model import Payout, PayoutStatus
from core.usecases.payouts.views import result_event
from core.usecases.shared.outbox import publish
from ports.payouts import PayoutRepository
from ports.storage import UnitOfWork


async def publish_result(uow: UnitOfWork, payout: Payout) -> None:
    """The final result to the caller app, keyed by its own serial number (seed §5: the result
    MQ), through the outbox in the transaction that made it final."""
    event = PAYOUT_EVENT_OF_STATUS[payout.status]
    await publish(uow, payout.app_id, event, payout.serial_no, result_event(payout), at=payout.updated_at)


async def save_move(
    uow: UnitOfWork, repo: PayoutRepository, moved: Payout, *, expected_status: PayoutStatus
) -> None:
    """Save `moved` if the stored payout is still in `expected_status` (else ConcurrentUpdate);
    a final payout's result is published in the same transaction."""
    await repo.save(moved, expected_status=expected_status)
    if moved.is_final:
        await publish_result(uow, moved)
