"""Virtual accounts: opening, reading with balances, ledger flows, funding, the ledger check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cards import mask_card_no
from core.errors import IdempotencyConflict, NotFound
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id
from core.ledger import (
    AccountKind,
    AccountStatus,
    AccountView,
    FlowKind,
    external_account_id,
    transfer,
)
from core.money import Money, from_minor
from gateway.storage import tables as t
from gateway.storage.uow import SqlUnitOfWork, row_to_account
from ports.storage import FlowLogSink


def account_json(row: Any) -> dict[str, Any]:
    m = row._mapping
    cur = m["currency"]
    card = m["card_no"]
    return {
        "id": m["id"],
        "owner": m["owner"],
        "kind": m["kind"],
        "currency": cur,
        "status": m["status"],
        "allow_overdraft": m["allow_overdraft"],
        "balance": str(from_minor(m["available_minor"], cur)),
        "pending_balance": str(from_minor(m["pending_minor"], cur)),
        "created_at": m["created_at"].isoformat(),
        "bank_card": None
        if card is None
        else {"card_no": mask_card_no(card), "name": m["card_name"], "bank_name": m["card_bank_name"]},
    }


def entry_json(row: Any) -> dict[str, Any]:
    m = row._mapping
    cur = m["currency"]
    return {
        "id": m["id"],
        "txn_id": m["txn_id"],
        "kind": m["kind"],
        "direction": "in" if m["amount_minor"] > 0 else "out",
        "amount": str(from_minor(abs(m["amount_minor"]), cur)),
        "currency": cur,
        "sub_account": m["sub_account"],
        "balance_after": str(from_minor(m["balance_after_minor"], cur)),
        "memo": m["memo"],
        "created_at": m["created_at"].isoformat(),
    }


@dataclass(frozen=True, slots=True)
class BankCard:
    """An account owner's registered bank card."""

    card_no: str
    name: str
    bank_name: str | None = None


class AccountStore:
    def __init__(
        self,
        engine: AsyncEngine,
        uow: Callable[[], SqlUnitOfWork],
        flow: FlowLogSink,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.uow = uow
        self.flow = flow
        self.clock = clock
        self.cache_size = 100_000
        self._views: dict[str, tuple[str | None, AccountView]] = {}

    async def open(
        self,
        app_id: str | None,
        owner: str,
        kind: AccountKind,
        currency: str,
        allow_overdraft: bool = False,
        account_id: str | None = None,
        bank_card: BankCard | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        values = {
            "id": account_id or new_id("acc"),
            "app_id": app_id,
            "owner": owner,
            "kind": kind.value,
            "currency": currency,
            "status": AccountStatus.NORMAL.value,
            "allow_overdraft": allow_overdraft,
            "available_minor": 0,
            "pending_minor": 0,
            "created_at": now,
            "card_no": bank_card.card_no if bank_card else None,
            "card_name": bank_card.name if bank_card else None,
            "card_bank_name": bank_card.bank_name if bank_card else None,
        }
        async with self.uow() as uow:
            await uow.conn.execute(t.accounts.insert().values(**values))
            await uow.commit()
        return await self.get(app_id, str(values["id"]))

    async def get(self, app_id: str | None, account_id: str) -> dict[str, Any]:
        stmt = sa.select(t.accounts).where(t.accounts.c.id == account_id)
        if app_id is not None:
            stmt = stmt.where(t.accounts.c.app_id == app_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise NotFound(f"account {account_id} does not exist", code="ACCOUNT_NOT_FOUND")
        return account_json(row)

    async def entries(self, app_id: str, account_id: str, limit: int, before: int | None) -> dict[str, Any]:
        await self.get(app_id, account_id)
        stmt = (
            sa.select(t.ledger_entries)
            .where(t.ledger_entries.c.account_id == account_id)
            .order_by(t.ledger_entries.c.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            stmt = stmt.where(t.ledger_entries.c.id < before)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        page = rows[:limit]
        return {
            "entries": [entry_json(r) for r in page],
            "next_cursor": str(page[-1].id) if len(rows) > limit else None,
        }

    async def _ensure_external(self, uow: SqlUnitOfWork, currency: str, now: datetime) -> str:
        ext = external_account_id(currency)
        exists = (await uow.conn.execute(sa.select(t.accounts.c.id).where(t.accounts.c.id == ext))).first()
        if exists is None:
            await uow.conn.execute(
                t.accounts.insert().values(
                    id=ext,
                    app_id=None,
                    owner="outside world",
                    kind=AccountKind.EXTERNAL.value,
                    currency=currency,
                    status=AccountStatus.NORMAL.value,
                    allow_overdraft=True,
                    available_minor=0,
                    pending_minor=0,
                    created_at=now,
                )
            )
        return ext

    async def fund(
        self, account_id: str, out_request_no: str, amount: Money, request_hash: str, actor: str
    ) -> tuple[dict[str, Any], bool]:
        """Credit an account from the external cash-in account; idempotent on out_request_no."""
        now = self.clock()
        funding_id = new_id("fnd")
        try:
            async with self.uow() as uow:
                existing = (
                    await uow.conn.execute(
                        sa.select(t.fundings).where(t.fundings.c.out_request_no == out_request_no)
                    )
                ).first()
                if existing is None:
                    account = (
                        await uow.conn.execute(sa.select(t.accounts).where(t.accounts.c.id == account_id))
                    ).first()
                    if account is None:
                        raise NotFound(f"account {account_id} does not exist", code="ACCOUNT_NOT_FOUND")
                    ext = await self._ensure_external(uow, amount.currency, now)
                    txn = await uow.ledger.post(
                        funding_id,
                        transfer(ext, account_id, amount, FlowKind.FUNDING, memo=out_request_no),
                        at=now,
                    )
                    await uow.conn.execute(
                        t.fundings.insert().values(
                            id=funding_id,
                            account_id=account_id,
                            out_request_no=out_request_no,
                            request_hash=request_hash,
                            amount_minor=amount.minor,
                            currency=amount.currency,
                            ledger_txn_id=txn,
                            actor=actor,
                            created_at=now,
                        )
                    )
                    await uow.commit()
        except IntegrityError:
            existing = None
            async with self.engine.connect() as conn:
                existing = (
                    await conn.execute(
                        sa.select(t.fundings).where(t.fundings.c.out_request_no == out_request_no)
                    )
                ).first()
            if existing is None:
                raise
        if existing is not None:
            if existing.request_hash != request_hash:
                raise IdempotencyConflict(
                    f"out_request_no {out_request_no!r} was already used with a different body",
                    field="out_request_no",
                )
            return self._funding_json(existing._mapping), False
        self.flow.record(
            FlowRecord(
                funding_id,
                FlowNode.LEDGER_POSTED,
                FlowOutcome.OK,
                now,
                f"funded {amount} {amount.currency}",
                {"account": account_id},
                actor=actor,
            )
        )
        return {
            "id": funding_id,
            "account_id": account_id,
            "out_request_no": out_request_no,
            "amount": str(amount),
            "currency": amount.currency,
        }, True

    @staticmethod
    def _funding_json(m: Any) -> dict[str, Any]:
        return {
            "id": m["id"],
            "account_id": m["account_id"],
            "out_request_no": m["out_request_no"],
            "amount": str(from_minor(m["amount_minor"], m["currency"])),
            "currency": m["currency"],
        }

    async def views(self, ids: Sequence[str]) -> dict[str, AccountView]:
        return {i: view for i, (_, view) in (await self._cached(ids)).items()}

    async def visible(self, app_id: str, ids: Sequence[str]) -> dict[str, AccountView]:
        """The accounts among `ids` that `app_id` owns (the others are not found, for it)."""
        return {i: view for i, (owner, view) in (await self._cached(ids)).items() if owner == app_id}

    async def _cached(self, ids: Sequence[str]) -> dict[str, tuple[str | None, AccountView]]:
        # An account's owning app and its view (kind, currency, status, overdraft) never change
        # once it is opened (nothing updates them), so they are cached; balances are not in them.
        # If an account ever becomes changeable (frozen ...), its entry must be dropped here.
        found = {i: self._views[i] for i in ids if i in self._views}
        missing = {i for i in ids if i not in found}
        if missing:
            async with self.engine.connect() as conn:
                rows = await conn.execute(sa.select(t.accounts).where(t.accounts.c.id.in_(missing)))
                for row in rows:
                    found[row.id] = self._views[row.id] = (row.app_id, row_to_account(row))
            while len(self._views) > self.cache_size:
                self._views.pop(next(iter(self._views)))
        return found

    async def ledger_check(self) -> dict[str, Any]:
        """Sum of balances per currency is zero; every txn balances; every balance equals its flows."""
        e = t.ledger_entries
        a = t.accounts
        async with self.engine.connect() as conn:
            totals = (
                await conn.execute(
                    sa.select(
                        a.c.currency,
                        sa.func.sum(a.c.available_minor + a.c.pending_minor),
                        sa.func.count(),
                    ).group_by(a.c.currency)
                )
            ).all()
            bad_txns = (
                await conn.execute(
                    sa.select(e.c.txn_id, e.c.currency, sa.func.sum(e.c.amount_minor))
                    .group_by(e.c.txn_id, e.c.currency)
                    .having(sa.func.sum(e.c.amount_minor) != 0)
                    .limit(100)
                )
            ).all()
            sums = (
                sa.select(e.c.account_id, e.c.sub_account, sa.func.sum(e.c.amount_minor).label("total"))
                .group_by(e.c.account_id, e.c.sub_account)
                .subquery()
            )
            avail = sa.func.coalesce(
                sa.select(sums.c.total)
                .where(sums.c.account_id == a.c.id, sums.c.sub_account == "1")
                .scalar_subquery(),
                0,
            )
            pend = sa.func.coalesce(
                sa.select(sums.c.total)
                .where(sums.c.account_id == a.c.id, sums.c.sub_account == "3")
                .scalar_subquery(),
                0,
            )
            mismatched = (
                await conn.execute(
                    sa.select(a.c.id)
                    .where(sa.or_(a.c.available_minor != avail, a.c.pending_minor != pend))
                    .limit(100)
                )
            ).all()
            negative = (
                await conn.execute(
                    sa.select(a.c.id)
                    .where(~a.c.allow_overdraft, sa.or_(a.c.available_minor < 0, a.c.pending_minor < 0))
                    .limit(100)
                )
            ).all()
            txn_count = (
                await conn.execute(sa.select(sa.func.count()).select_from(t.ledger_txns))
            ).scalar_one()
        currencies = {
            cur: {"sum_of_balances": str(from_minor(int(total or 0), cur)), "accounts": count}
            for cur, total, count in totals
        }
        ok = (
            all(int(total or 0) == 0 for _, total, _ in totals)
            and not bad_txns
            and not mismatched
            and not negative
        )
        return {
            "ok": ok,
            "currencies": currencies,
            "transactions_checked": txn_count,
            "unbalanced_transactions": [r.txn_id for r in bad_txns],
            "accounts_not_matching_flows": [r.id for r in mismatched],
            "accounts_below_zero": [r.id for r in negative],
        }
