"""Reading payouts: by id (optionally only a given app's) and by the caller's serial number."""

from __future__ import annotations

from core.errors import NotFound
from core.payouts.model import Payout
from core.usecases.payouts.context import PayoutContext, found


async def find(ctx: PayoutContext, payout_id: str) -> Payout | None:
    async with ctx.reads() as uow:
        return await uow.payouts.get(payout_id)


async def get(ctx: PayoutContext, payout_id: str, app_id: str | None = None) -> Payout:
    """The payout; with `app_id`, only if that app applied for it (others' are a 404)."""
    payout = await find(ctx, payout_id)
    if payout is not None and app_id is not None and payout.app_id != app_id:
        payout = None  # another app's payout does not exist for this one
    return found(payout, payout_id)


async def find_by_serial_no(ctx: PayoutContext, app_id: str, serial_no: str) -> Payout | None:
    async with ctx.reads() as uow:
        return await uow.payouts.by_serial_no(app_id, serial_no)


async def by_serial_no(ctx: PayoutContext, app_id: str, serial_no: str) -> Payout:
    payout = await find_by_serial_no(ctx, app_id, serial_no)
    if payout is None:
        raise NotFound(f"no payout with serial_no {serial_no!r}", code="PAYOUT_NOT_FOUND")
    return payout
