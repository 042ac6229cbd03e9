"""SQL storage of operators and their API tokens (gateway/storage/operator_tables.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import Conflict
from core.operators.model import Operator, parse_roles
from gateway.storage.operator_tables import operator_tokens, operators
from gateway.storage.uow import SqlUnitOfWork


class OperatorExists(Conflict):
    """A second operator with a login already taken."""


@dataclass(frozen=True)
class StoredOperator:
    """An operator with the hash of their password (never leaves the gateway)."""

    operator: Operator
    password_hash: str


@dataclass(frozen=True)
class TokenView:
    """An API token as lists show it: its prefix, never the token."""

    login: str
    prefix: str
    created_at: datetime
    revoked: bool


def _operator(row: Any) -> Operator:
    return Operator(
        id=row.id,
        login=row.login,
        display_name=row.display_name,
        roles=parse_roles(row.roles.split(",")),
        disabled=bool(row.disabled),
        created_at=row.created_at,
    )


class OperatorStore:
    """Reads on the engine; writes in a unit of work (on SQLite, the writer's turn)."""

    def __init__(self, engine: AsyncEngine, uow: Callable[[], SqlUnitOfWork]) -> None:
        self.engine = engine
        self.uow = uow

    async def by_login(self, login: str) -> StoredOperator | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(operators).where(operators.c.login == login))).first()
        return None if row is None else StoredOperator(_operator(row), row.password_hash)

    async def by_token_hash(self, token_hash: str) -> Operator | None:
        """The operator of a token that was not revoked (disabled or not)."""
        o, tk = operators, operator_tokens
        stmt = (
            sa.select(o)
            .join(tk, tk.c.operator_id == o.c.id)
            .where(tk.c.token_hash == token_hash, tk.c.revoked_at.is_(None))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _operator(row)

    async def all(self) -> list[Operator]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(operators).order_by(operators.c.login))).all()
        return [_operator(r) for r in rows]

    async def tokens(self, login: str) -> list[TokenView]:
        o, tk = operators, operator_tokens
        stmt = (
            sa.select(o.c.login, tk.c.prefix, tk.c.created_at, tk.c.revoked_at)
            .join(tk, tk.c.operator_id == o.c.id)
            .where(o.c.login == login)
            .order_by(tk.c.created_at)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [TokenView(r.login, r.prefix, r.created_at, r.revoked_at is not None) for r in rows]

    async def add(self, operator: Operator, password_hash: str) -> None:
        async with self.uow() as unit:
            conn = unit.conn
            taken = await conn.scalar(sa.select(operators.c.id).where(operators.c.login == operator.login))
            if taken is not None:
                raise OperatorExists(f"operator {operator.login!r} exists", code="OPERATOR_EXISTS")
            try:
                await conn.execute(
                    operators.insert().values(
                        id=operator.id,
                        login=operator.login,
                        display_name=operator.display_name,
                        password_hash=password_hash,
                        roles=",".join(operator.role_names),
                        disabled=operator.disabled,
                        created_at=operator.created_at,
                        updated_at=operator.created_at,
                    )
                )
            except sa.exc.IntegrityError:  # a concurrent add of the same login won
                raise OperatorExists(f"operator {operator.login!r} exists", code="OPERATOR_EXISTS") from None
            await unit.commit()

    async def update(self, login: str, at: datetime, **values: Any) -> bool:
        """Change an operator's columns (`disabled`, `password_hash`); False when none has `login`."""
        async with self.uow() as unit:
            result = await unit.conn.execute(
                operators.update().where(operators.c.login == login).values(updated_at=at, **values)
            )
            await unit.commit()
        return bool(result.rowcount)

    async def add_token(
        self, token_id: str, operator_id: str, token_hash: str, prefix: str, at: datetime
    ) -> bool:
        """Store a token's hash; False when that hash is stored already (a demo token seeded twice)."""
        async with self.uow() as unit:
            conn = unit.conn
            known = await conn.scalar(
                sa.select(operator_tokens.c.id).where(operator_tokens.c.token_hash == token_hash)
            )
            if known is not None:
                return False
            try:
                await conn.execute(
                    operator_tokens.insert().values(
                        id=token_id,
                        operator_id=operator_id,
                        token_hash=token_hash,
                        prefix=prefix,
                        created_at=at,
                        revoked_at=None,
                    )
                )
            except sa.exc.IntegrityError:  # a concurrent seeding of the same token won
                return False
            await unit.commit()
        return True

    async def revoke_tokens(self, operator_id: str, at: datetime) -> int:
        tk = operator_tokens
        async with self.uow() as unit:
            result = await unit.conn.execute(
                tk.update()
                .where(tk.c.operator_id == operator_id, tk.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            await unit.commit()
        return int(result.rowcount)
