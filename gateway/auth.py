"""Caller authentication: HMAC-SHA256 request signatures with timestamp and one-time nonce."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from core.errors import DomainError
from gateway.storage import tables as t
from gateway.storage.sqlite_uow import claim_nonce, purge_nonces
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.uow import SqlUnitOfWork


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    http_status = 401


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path_with_query, timestamp, nonce, body_digest(body)])


def sign(secret: str, method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path_with_query, timestamp, nonce, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    app_id: str,
    secret: str,
    method: str,
    path_with_query: str,
    body: bytes,
    *,
    timestamp: int,
    nonce: str,
) -> dict[str, str]:
    """Headers a caller (or our webhook sender) attaches to a signed request."""
    return {
        "X-App-Id": app_id,
        "X-Timestamp": str(timestamp),
        "X-Nonce": nonce,
        "X-Signature": sign(secret, method, path_with_query, str(timestamp), nonce, body),
    }


class NonceStore:
    """Nonces seen within the clock-skew window, in the database so that several gateway
    processes share them and a restart does not reopen the window."""

    def __init__(
        self, uow: Callable[[], SqlUnitOfWork], window: timedelta, writer: SqliteWriter | None = None
    ) -> None:
        self.uow = uow
        self.window = window
        self.writer = writer

    async def claim(self, app_id: str, nonce: str, now: datetime) -> bool:
        if self.writer is not None:  # shares a group commit with other requests' writes
            return await self.writer.run(
                functools.partial(claim_nonce, app_id=app_id, nonce=nonce, at=now), single_statement=True
            )
        try:
            async with self.uow() as uow:
                await uow.conn.execute(t.nonces.insert().values(app_id=app_id, nonce=nonce, seen_at=now))
                await uow.commit()
        except IntegrityError:
            return False
        return True

    async def purge(self, now: datetime) -> int:
        # a nonce older than twice the window can never be replayed: its timestamp is refused
        if self.writer is not None:
            return await self.writer.run(functools.partial(purge_nonces, before=now - 2 * self.window))
        async with self.uow() as uow:
            result = await uow.conn.execute(
                t.nonces.delete().where(t.nonces.c.seen_at < now - 2 * self.window)
            )
            await uow.commit()
        return result.rowcount or 0


async def authenticate(
    headers: Mapping[str, str],
    method: str,
    path_with_query: str,
    body: bytes,
    secrets: Mapping[str, str],
    nonces: NonceStore,
    now: datetime,
    max_skew: int,
) -> str:
    """Returns the caller's app id, or raises Unauthenticated saying what is wrong."""
    app_id = headers.get("X-App-Id")
    timestamp = headers.get("X-Timestamp")
    nonce = headers.get("X-Nonce")
    signature = headers.get("X-Signature")
    missing = [
        name
        for name, value in (
            ("X-App-Id", app_id),
            ("X-Timestamp", timestamp),
            ("X-Nonce", nonce),
            ("X-Signature", signature),
        )
        if not value
    ]
    if missing:
        raise Unauthenticated(f"missing header {missing[0]}", field=missing[0])
    assert app_id and timestamp and nonce and signature
    secret = secrets.get(app_id)
    if secret is None:
        raise Unauthenticated("unknown app id", field="X-App-Id")
    if not timestamp.isdigit():
        raise Unauthenticated("X-Timestamp must be unix seconds", field="X-Timestamp")
    if abs(int(timestamp) - now.timestamp()) > max_skew:
        raise Unauthenticated(
            f"X-Timestamp is more than {max_skew}s away from the server clock", field="X-Timestamp"
        )
    if len(nonce) > 128:
        raise Unauthenticated("X-Nonce is longer than 128 characters", field="X-Nonce")
    expected = sign(secret, method, path_with_query, timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise Unauthenticated("signature does not match the request", field="X-Signature")
    if not await nonces.claim(app_id, nonce, now):
        raise Unauthenticated("X-Nonce was already used", field="X-Nonce")
    return app_id
