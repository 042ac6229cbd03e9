"""`OperatorService` (`container.operators`): who an /ops caller is, and managing operators.

Passwords are hashed with argon2id (argon2-cffi); API tokens are random 32-byte strings of which
only the sha256 is stored. The console authenticates with `authenticate_password`, scripts and
the /ops routes with `authenticate_token`; the CLI (`paygate operators`) manages them.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import InvalidArgument, NotFound
from core.ids import new_id, utcnow
from core.operators.model import Operator, Role, check_login
from gateway.settings import OpsSettings
from gateway.storage.operators import OperatorExists, OperatorStore, TokenView

TOKEN_PREFIX = "pgo_"
PREFIX_SHOWN = 12  # characters of a token that lists show
MIN_PASSWORD = 8


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: `token` is shown once and never stored."""

    login: str
    token: str
    prefix: str


@dataclass(frozen=True)
class DemoOperator:
    """One of the operators the demo configuration creates (local trials only)."""

    login: str
    role: Role
    password: str
    token: str


# one per role; their passwords and tokens are published in README.md: local trials only
DEMO_OPERATORS = tuple(
    DemoOperator(f"demo-{role.value}", role, f"demo-{role.value}", f"demo-{role.value}-token-change-me")
    for role in Role
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_hasher(settings: OpsSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_time_cost,
        memory_cost=settings.password_memory_kib,
        parallelism=settings.password_parallelism,
    )


class OperatorService:
    """Authenticates operators and manages them; every method is safe to call concurrently."""

    def __init__(
        self, store: OperatorStore, hasher: PasswordHasher, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.clock = clock
        # verified when a login is unknown, so an unknown login costs what a wrong password costs
        self._decoy = hasher.hash(secrets.token_hex(16))

    # authentication ------------------------------------------------------------------------
    async def authenticate_password(self, login: str, password: str) -> Operator | None:
        """The operator of `login` when `password` is theirs and they are not disabled."""
        stored = await self.store.by_login(login)
        matches = await asyncio.to_thread(
            self._verify, stored.password_hash if stored else self._decoy, password
        )
        if stored is None or not matches or stored.operator.disabled:
            return None
        return stored.operator

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def authenticate_token(self, token: str) -> Operator | None:
        """The operator of an API token not revoked, when they are not disabled."""
        if not token:
            return None
        operator = await self.store.by_token_hash(token_hash(token))
        return None if operator is None or operator.disabled else operator

    # reading -------------------------------------------------------------------------------
    async def get(self, login: str) -> Operator | None:
        stored = await self.store.by_login(login)
        return None if stored is None else stored.operator

    async def all(self) -> list[Operator]:
        return await self.store.all()

    async def tokens(self, login: str) -> list[TokenView]:
        await self._existing(login)
        return await self.store.tokens(login)

    # management ----------------------------------------------------------------------------
    async def add(
        self, login: str, roles: Iterable[Role], password: str, display_name: str | None = None
    ) -> Operator:
        held = frozenset(roles)
        if not held:
            raise InvalidArgument("an operator needs at least one role", field="roles")
        operator = Operator(
            id=new_id("opr"),
            login=check_login(login),
            display_name=display_name,
            roles=held,
            disabled=False,
            created_at=self.clock(),
        )
        await self.store.add(operator, await self._hash(password))
        return operator

    async def disable(self, login: str) -> Operator:
        """Disabled: no password or token of theirs authenticates any more; their tokens are revoked."""
        operator = await self._existing(login)
        now = self.clock()
        await self.store.update(login, now, disabled=True)
        await self.store.revoke_tokens(operator.id, now)
        return await self._existing(login)

    async def reset(self, login: str, password: str) -> Operator:
        """A new password (the old one stops working at once)."""
        await self._existing(login)
        await self.store.update(login, self.clock(), password_hash=await self._hash(password))
        return await self._existing(login)

    async def issue_token(self, login: str) -> IssuedToken:
        operator = await self._existing(login)
        if operator.disabled:
            raise InvalidArgument(f"operator {login!r} is disabled", field="login")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._store_token(operator, token)
        return IssuedToken(login, token, token[:PREFIX_SHOWN])

    async def ensure_demo(self) -> list[str]:
        """The demo operators (one per role, `DEMO_OPERATORS`), created when missing, each with
        its fixed API token; the logins created. Safe to run at every start and concurrently."""
        created = []
        for demo in DEMO_OPERATORS:
            operator = await self.get(demo.login)
            if operator is None:
                try:
                    operator = await self.add(
                        demo.login, {demo.role}, demo.password, f"demo {demo.role.value}"
                    )
                    created.append(demo.login)
                except OperatorExists:
                    operator = await self._existing(demo.login)  # another process added it first
            if not operator.disabled:
                await self._store_token(operator, demo.token)
        return created

    async def _store_token(self, operator: Operator, token: str) -> bool:
        return await self.store.add_token(
            new_id("opt"), operator.id, token_hash(token), token[:PREFIX_SHOWN], self.clock()
        )

    async def _existing(self, login: str) -> Operator:
        operator = await self.get(login)
        if operator is None:
            raise NotFound(f"operator {login!r} does not exist", code="OPERATOR_NOT_FOUND")
        return operator

    async def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise InvalidArgument(f"a password needs at least {MIN_PASSWORD} characters", field="password")
        return await asyncio.to_thread(self.hasher.hash, password)
