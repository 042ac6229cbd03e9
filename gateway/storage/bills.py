"""SQL storage of bills: the bill repository bound to a unit of work."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.bills.model import (
    IN_PROCESS,
    ApplicantView,
    BankFailureEvidence,
    Bill,
    BillFailure,
    BillKind,
    BillStatus,
    LoanState,
    LoanView,
    WriteOffLine,
)
from core.bills.plan import LoanUpdate, TransferLog, WriteOffLog
from core.ledger import AccountKind, AccountStatus, account_to_open
from core.money import Money
from core.payments.model import Payment
from gateway.storage import tables as t
from gateway.storage.bill_tables import bills as b
from gateway.storage.bill_tables import write_off_logs
from gateway.storage.rows import payment_from_mapping
from gateway.storage.sql_repositories import SqlAccounts
from ports.bills import Applicant, CompanyAccounts, LoanChanged
from ports.storage import ConcurrentUpdate, DuplicateRequest


def row_to_bill(row: sa.Row[Any]) -> Bill:
    m = row._mapping
    currency = m["currency"]
    failure = (
        BillFailure(m["failure_code"], m["failure_message"] or "", m["failure_field"])
        if m["failure_code"]
        else None
    )
    return Bill(
        id=m["id"],
        app_id=m["app_id"],
        kind=BillKind(m["kind"]),
        bill_code=m["bill_code"],
        request_hash=m["request_hash"],
        status=BillStatus(m["status"]),
        pay_mode=m["pay_mode"],
        applicant_account_id=m["applicant_account"],
        amount=Money(m["amount_minor"], currency),
        write_off_total=Money(m["write_off_total_minor"], currency),
        write_offs=tuple(
            WriteOffLine(line["loan_bill_id"], Money(line["amount_minor"], currency))
            for line in m["write_offs"] or ()
        ),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        exchange_rate=Decimal(m["exchange_rate"]) if m["exchange_rate"] is not None else None,
        payer_card_no=m["payer_card_no"],
        payee_card_no=m["payee_card_no"],
        payee_name=m["payee_name"],
        payee_bank_name=m["payee_bank_name"],
        payee_bank_no=m["payee_bank_no"],
        memo=m["memo"],
        attempt=m["attempt"],
        payment_id=m["payment_id"],
        failure=failure,
        bank_failure_evidence=(
            BankFailureEvidence(m["bank_failure_evidence"]) if m["bank_failure_evidence"] else None
        ),
        # only a loan's write-off can be reserved: other bills carry none, as the model has them
        loan_reserved_amount=(
            Money(m["loan_reserved_minor"] or 0, currency) if m["loan_open_minor"] is not None else None
        ),
        loan_open_amount=Money(m["loan_open_minor"], currency) if m["loan_open_minor"] is not None else None,
        loan_state=LoanState(m["loan_state"]) if m["loan_state"] else None,
        completed_at=m["completed_at"],
    )


def _bill_values(bill: Bill) -> dict[str, Any]:
    failure = bill.failure
    return {
        "id": bill.id,
        "app_id": bill.app_id,
        "kind": bill.kind.value,
        "bill_code": bill.bill_code,
        "request_hash": bill.request_hash,
        "status": bill.status.value,
        "pay_mode": bill.pay_mode,
        "applicant_account": bill.applicant_account_id,
        "currency": bill.currency,
        "amount_minor": bill.amount.minor,
        "write_off_total_minor": bill.write_off_total.minor,
        "write_offs": [
            {"loan_bill_id": line.loan_bill_id, "amount_minor": line.amount.minor} for line in bill.write_offs
        ],
        "exchange_rate": str(bill.exchange_rate) if bill.exchange_rate is not None else None,
        "payer_card_no": bill.payer_card_no,
        "payee_card_no": bill.payee_card_no,
        "payee_name": bill.payee_name,
        "payee_bank_name": bill.payee_bank_name,
        "payee_bank_no": bill.payee_bank_no,
        "memo": bill.memo,
        "attempt": bill.attempt,
        "payment_id": bill.payment_id,
        "failure_code": failure.code if failure else None,
        "failure_message": failure.message[:512] if failure else None,
        "failure_field": failure.field[:128] if failure and failure.field else None,
        "bank_failure_evidence": bill.bank_failure_evidence.value if bill.bank_failure_evidence else None,
        "loan_open_minor": bill.loan_open_amount.minor if bill.loan_open_amount is not None else None,
        "loan_state": bill.loan_state.value if bill.loan_state else None,
        "created_at": bill.created_at,
        "updated_at": bill.updated_at,
        "completed_at": bill.completed_at,
        # a bill is saved when it moves: any claim on its attempt to send ends with the move
        "attempt_claimed_by": None,
        "attempt_claimed_until": None,
    }


def company_account_ids(app_id: str, currency: str) -> CompanyAccounts:
    """Stable ids of an app's company accounts in a currency, so that concurrent first uses
    open each account once (the others' inserts do nothing on its primary key)."""
    digest = hashlib.sha256(f"{app_id}\x00{currency}".encode()).hexdigest()[:30]
    return CompanyAccounts(paying=f"cpay_{digest}", write_off=f"cwof_{digest}")


class SqlBills:
    """The bill repository on one connection (one transaction)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _select(self, *where: sa.ColumnElement[bool], lock: bool = False) -> sa.Select[Any]:
        stmt = sa.select(b).where(*where)
        if lock and self.conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        return stmt

    async def add(self, bill: Bill) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(b.insert().values(**_bill_values(bill)))
        except IntegrityError as exc:
            raise DuplicateRequest(bill.bill_code) from exc

    async def get(self, bill_id: str) -> Bill | None:
        row = (await self.conn.execute(self._select(b.c.id == bill_id))).first()
        return row_to_bill(row) if row else None

    async def get_for_update(self, bill_id: str) -> Bill | None:
        row = (await self.conn.execute(self._select(b.c.id == bill_id, lock=True))).first()
        return row_to_bill(row) if row else None

    async def by_code(self, app_id: str, bill_code: str) -> Bill | None:
        row = (
            await self.conn.execute(self._select(b.c.app_id == app_id, b.c.bill_code == bill_code))
        ).first()
        return row_to_bill(row) if row else None

    async def save(self, bill: Bill, *, expected_status: BillStatus) -> None:
        values = _bill_values(bill)
        for key in ("id", "app_id", "kind", "bill_code", "request_hash", "created_at"):
            values.pop(key)
        result = await self.conn.execute(
            b.update().where(b.c.id == bill.id, b.c.status == expected_status.value).values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(bill.id)

    async def applicant(self, app_id: str, account_id: str) -> Applicant | None:
        a = t.accounts
        row = (
            await self.conn.execute(
                sa.select(a).where(
                    a.c.id == account_id, a.c.app_id == app_id, a.c.kind == AccountKind.CUSTOMER.value
                )
            )
        ).first()
        if row is None:
            return None
        view = ApplicantView(
            account_id=row.id,
            name=row.owner,
            status=AccountStatus(row.status),
            card_no=row.card_no,
            card_name=row.card_name,
        )
        return Applicant(view, row.currency, row.card_bank_name, row.card_bank_no)

    async def loans(
        self, app_id: str, loan_bill_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, LoanView]:
        if not loan_bill_ids:
            return {}
        stmt = self._select(
            b.c.id.in_(sorted(set(loan_bill_ids))),
            b.c.app_id == app_id,
            b.c.kind == BillKind.LOAN.value,
            b.c.status == BillStatus.COMPLETED.value,
            lock=lock,
        ).order_by(b.c.id)
        views = (row_to_bill(row).loan_view() for row in (await self.conn.execute(stmt)).all())
        return {view.bill_id: view for view in views if view is not None}

    async def open_loans(self, app_id: str, applicant_account_id: str, *, excluding: str) -> int:
        in_process = [s.value for s in IN_PROCESS]
        count = (
            await self.conn.execute(
                sa.select(sa.func.count())
                .select_from(b)
                .where(
                    b.c.app_id == app_id,
                    b.c.applicant_account == applicant_account_id,
                    b.c.kind == BillKind.LOAN.value,
                    b.c.id != excluding,
                    sa.or_(
                        b.c.status.in_(in_process),
                        sa.and_(
                            b.c.status == BillStatus.COMPLETED.value, b.c.loan_state == LoanState.OPEN.value
                        ),
                    ),
                )
            )
        ).scalar_one()
        return int(count)

    async def hold_applicant(self, app_id: str, account_id: str) -> None:
        if self.conn.dialect.name == "sqlite":
            return  # the writer's transaction (BEGIN IMMEDIATE) holds the database already
        a = t.accounts
        await self.conn.execute(
            sa.select(a.c.id).where(a.c.id == account_id, a.c.app_id == app_id).with_for_update()
        )

    async def reserve_write_off(self, loan_bill_id: str, amount: Money) -> bool:
        result = await self.conn.execute(
            b.update()
            .where(
                b.c.id == loan_bill_id,
                b.c.kind == BillKind.LOAN.value,
                b.c.loan_state == LoanState.OPEN.value,
                b.c.loan_open_minor - b.c.loan_reserved_minor >= amount.minor,
            )
            .values(loan_reserved_minor=b.c.loan_reserved_minor + amount.minor)
        )
        return result.rowcount == 1

    async def release_write_off(self, loan_bill_id: str, amount: Money) -> None:
        await self.conn.execute(
            b.update()
            .where(b.c.id == loan_bill_id, b.c.loan_reserved_minor >= amount.minor)
            .values(loan_reserved_minor=b.c.loan_reserved_minor - amount.minor)
        )

    async def update_loan(self, update: LoanUpdate, *, at: datetime) -> None:
        written_off = update.expected_open_amount.minor - update.open_amount.minor
        result = await self.conn.execute(
            b.update()
            .where(
                b.c.id == update.loan_bill_id,
                b.c.loan_open_minor == update.expected_open_amount.minor,
                b.c.loan_state == LoanState.OPEN.value,
                b.c.loan_reserved_minor >= written_off,
            )
            .values(
                loan_open_minor=update.open_amount.minor,
                loan_reserved_minor=b.c.loan_reserved_minor - written_off,
                loan_state=update.state.value,
                updated_at=at,
            )
        )
        if result.rowcount != 1:
            raise LoanChanged(
                f"loan {update.loan_bill_id} no longer has {update.expected_open_amount} open with this "
                "write-off reserved: another bill wrote it off meanwhile",
                field="write_offs",
            )

    async def add_transfer_log(
        self, bill_id: str, ledger_txn_id: str, log: TransferLog, *, at: datetime
    ) -> None:
        await self.conn.execute(
            t.transfer_logs.insert().values(
                payment_id=bill_id,
                ledger_txn_id=ledger_txn_id,
                payer_account=log.payer_account_id,
                payee_account=log.payee_account_id,
                amount_minor=log.amount.minor,
                currency=log.amount.currency,
                created_at=at,
            )
        )

    async def add_write_off_logs(
        self, bill_id: str, ledger_txn_id: str, logs: Sequence[WriteOffLog], *, at: datetime
    ) -> None:
        if logs:
            await self.conn.execute(
                write_off_logs.insert(),
                [
                    {
                        "bill_id": bill_id,
                        "loan_bill_id": log.loan_bill_id,
                        "ledger_txn_id": ledger_txn_id,
                        "amount_minor": log.amount.minor,
                        "currency": log.amount.currency,
                        "created_at": at,
                    }
                    for log in logs
                ],
            )

    async def company_accounts(self, app_id: str, currency: str, *, at: datetime) -> CompanyAccounts:
        ids = company_account_ids(app_id, currency)
        accounts = SqlAccounts(self.conn)
        for account_id, owner in (
            (ids.paying, "company paying account"),
            (ids.write_off, "company write-off"),
        ):
            company = account_to_open(
                app_id, owner, AccountKind.COMPANY, currency, allow_overdraft=True, account_id=account_id
            )
            await accounts.open_if_missing(company, at=at)  # one INSERT ... ON CONFLICT DO NOTHING
        return ids

    async def attempt_payment(self, bill: Bill) -> tuple[Payment, int] | None:
        if bill.attempt < 1:
            return None
        p = t.payments
        row = (
            await self.conn.execute(
                sa.select(p).where(p.c.app_id == bill.app_id, p.c.out_request_no == bill.attempt_request_no)
            )
        ).first()
        return (payment_from_mapping(row._mapping), int(row.query_attempts)) if row else None

    async def query_attempt_now(self, bill: Bill, now: datetime) -> bool:
        p = t.payments
        result = await self.conn.execute(
            p.update()
            .where(
                p.c.app_id == bill.app_id,
                p.c.out_request_no == bill.attempt_request_no,
                p.c.status.in_(("created", "processing", "unknown")),
                sa.or_(p.c.next_query_at.is_(None), p.c.next_query_at > now),
            )
            .values(next_query_at=now)
        )
        return result.rowcount == 1

    async def due_for_business(self, limit: int) -> list[str]:
        due = (BillStatus.BANK_SUCCEEDED.value, BillStatus.TRANSFER_PENDING.value)
        rows = await self.conn.execute(
            sa.select(b.c.id).where(b.c.status.in_(due)).order_by(b.c.updated_at).limit(limit)
        )
        return [row.id for row in rows]

    async def attempts_to_send(self, now: datetime, limit: int) -> list[Bill]:
        stmt = self._select(
            b.c.status == BillStatus.BANK_SUBMITTED.value,
            sa.or_(b.c.attempt_claimed_until.is_(None), b.c.attempt_claimed_until <= now),
        )
        rows = await self.conn.execute(stmt.order_by(b.c.updated_at).limit(limit))
        return [row_to_bill(row) for row in rows]

    async def claim_attempt(
        self, bill_id: str, attempt: int, *, holder: str, until: datetime, now: datetime
    ) -> bool:
        result = await self.conn.execute(
            b.update()
            .where(
                b.c.id == bill_id,
                b.c.status == BillStatus.BANK_SUBMITTED.value,
                b.c.attempt == attempt,
                sa.or_(b.c.attempt_claimed_until.is_(None), b.c.attempt_claimed_until <= now),
            )
            .values(attempt_claimed_by=holder, attempt_claimed_until=until)
        )
        return result.rowcount == 1
