"""Virtual accounts: opening, reading with balances, ledger flows, funding, the ledger check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.cards import mask_card_no
from core.errors import IdempotencyConflict, NotFound
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id
from core.ledger import AccountKind, AccountView, BankCard, account_to_open, funding_plan
from core.ledger_check import ledger_is_consistent
from core.money import Money, from_minor
from gateway.storage import tables as t
from gateway.storage.queries.ledger_check import ledger_findings
from gateway.storage.rows import row_to_account
from gateway.storage.uow import SqlUnitOfWork
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
        else {
            "card_no": mask_card_no(card),
            "name": m["card_name"],
            "bank_name": m["card_bank_name"],
            "bank_no": m["card_bank_no"],
        },
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
        account = account_to_open(
            app_id,
            owner,
            kind,
            currency,
            allow_overdraft=allow_overdraft,
            account_id=account_id,
            bank_card=bank_card,
        )
        async with self.uow() as uow:
            await uow.accounts.open(account, at=self.clock())
            await uow.commit()
        return await self.get(app_id, account.view.id)

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

    async def fund(
        self, account_id: str, out_request_no: str, amount: Money, request_hash: str, actor: str
    ) -> tuple[dict[str, Any], bool]:
        """Credit an account from the external cash-in account; idempotent on out_request_no."""
        now = self.clock()
        funding_id = new_id("fnd")
        try:
            existing = await self._fund_once(
                funding_id, account_id, out_request_no, amount, request_hash, actor
            )
        except IntegrityError:  # a concurrent funding with the same out_request_no won
            async with self.engine.connect() as conn:
                existing = await _funding(conn, out_request_no)
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

    async def _fund_once(
        self,
        funding_id: str,
        account_id: str,
        out_request_no: str,
        amount: Money,
        request_hash: str,
        actor: str,
    ) -> sa.Row[Any] | None:
        """The funding's transaction; the earlier funding of `out_request_no` if there is one."""
        now = self.clock()
        async with self.uow() as uow:
            existing = await _funding(uow.conn, out_request_no)
            if existing is not None:
                return existing
            account = (
                await uow.conn.execute(sa.select(t.accounts.c.id).where(t.accounts.c.id == account_id))
            ).first()
            if account is None:
                raise NotFound(f"account {account_id} does not exist", code="ACCOUNT_NOT_FOUND")
            plan = funding_plan(account_id, amount, memo=out_request_no)
            await uow.accounts.open_if_missing(plan.source, at=now)
            txn = await uow.ledger.post(funding_id, plan.postings, at=now)
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
        return None

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
        """The ledger check (core/ledger_check.py) over every account and flow."""
        async with self.engine.connect() as conn:
            findings = await ledger_findings(conn)
        return {
            "ok": ledger_is_consistent(findings),
            "currencies": {
                total.currency: {
                    "sum_of_balances": str(from_minor(total.sum_of_balances_minor, total.currency)),
                    "accounts": total.accounts,
                }
                for total in findings.currency_totals
            },
            "transactions_checked": findings.transactions_checked,
            "unbalanced_transactions": list(findings.unbalanced_transactions),
            "accounts_not_matching_flows": list(findings.accounts_not_matching_flows),
            "accounts_below_zero": list(findings.accounts_below_zero),
        }


async def _funding(conn: AsyncConnection, out_request_no: str) -> sa.Row[Any] | None:
    return (
        await conn.execute(sa.select(t.fundings).where(t.fundings.c.out_request_no == out_request_no))
    ).first()
