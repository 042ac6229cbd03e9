"""`PaymentStorage`: the storage ports the payment use cases write and read through."""

from __future__ import annotations

from dataclasses import dataclass

from core.payments.model import Payment
from ports.storage import Accounts, Transactions, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PaymentStorage:
    # units of work that write, and ones that only read (on SQLite they take no writer's turn)
    uow: UnitOfWorkFactory
    reads: UnitOfWorkFactory
    # the atomic commit of a ledger channel's payment (group-committed on SQLite)
    transact: Transactions
    # which accounts an app may name (a cache in the gateway; None: a read per payment)
    accounts: Accounts | None = None

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        async with self.reads() as uow:
            return await uow.payments.by_request_no(app_id, out_request_no)

    async def visible_accounts(self, app_id: str, ids: tuple[str, ...]) -> set[str]:
        """The accounts among `ids` that `app_id` may name."""
        if self.accounts is not None:
            return set(await self.accounts.visible(app_id, ids))
        async with self.reads() as uow:
            return set(await uow.accounts.visible(app_id, ids))
