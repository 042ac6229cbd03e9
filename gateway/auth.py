"""Caller authentication: HMAC-SHA256 request signatures with timestamp and one-time nonce."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from core.errors import DomainError
from gateway.http.request_body import REFUSED_CHARACTER, plain_number
from gateway.storage import tables as t
from gateway.storage.nonces import PgNonceClaims
from gateway.storage.sqlite_uow import claim_nonce, purge_nonces
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.uow import SqlUnitOfWork


class Unauthenticated(DomainError):
    """A /v1 request whose caller could not be authenticated. `message` is what the caller is
    told; `reason` is for the operators' log only (it may say what the caller must not learn)."""

    code = "UNAUTHENTICATED"
    http_status = 401

    def __init__(self, message: str, *, field: str | None = None, reason: str = "refused") -> None:
        super().__init__(message, field=field)
        self.reason = reason


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
        engine = uow().engine
        self.pg_claims = PgNonceClaims(engine) if engine.dialect.name == "postgresql" else None

    async def claim(self, app_id: str, nonce: str, now: datetime) -> bool:
        if self.writer is not None:  # shares a group commit with other requests' writes
            return await self.writer.run(
                functools.partial(claim_nonce, app_id=app_id, nonce=nonce, at=now), single_statement=True
            )
        if self.pg_claims is not None:  # batched with the claims of concurrent requests
            return await self.pg_claims.claim(app_id, nonce, now)
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


# The one answer to "this app id and signature do not go together": an unknown app id gets it
# too, so that a caller cannot learn which app ids exist (the log keeps the difference).
SIGNATURE_MISMATCH = "signature does not match the request"
# signs for an unknown app id, so that it costs what a known one costs
_NO_SECRET = "paygate-no-such-app"

REQUIRED_HEADERS = ("X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature")
MAX_TIMESTAMP_DIGITS = 12  # unix seconds until the year 33658; more cannot be compared with a clock


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
    """Returns the caller's app id, or raises Unauthenticated saying what is wrong (without
    saying whether the app id exists: `Unauthenticated.reason` tells the log)."""
    app_id, timestamp, nonce, signature = _required_headers(headers)
    _check_freshness(timestamp, nonce, now, max_skew)
    secret = secrets.get(app_id)
    expected = sign(secret or _NO_SECRET, method, path_with_query, timestamp, nonce, body)
    if secret is None:
        raise Unauthenticated(SIGNATURE_MISMATCH, field="X-Signature", reason="unknown_app_id")
    if not signature.isascii() or not hmac.compare_digest(expected, signature.lower()):
        raise Unauthenticated(SIGNATURE_MISMATCH, field="X-Signature", reason="bad_signature")
    if not await nonces.claim(app_id, nonce, now):
        raise Unauthenticated("X-Nonce was already used", field="X-Nonce", reason="nonce_reused")
    return app_id


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str, str]:
    """X-App-Id, X-Timestamp, X-Nonce and X-Signature, each present, not empty, and text: a byte
    that is not UTF-8 reaches here as a lone surrogate, which nothing can sign or store."""
    values = [headers.get(name) or "" for name in REQUIRED_HEADERS]
    for name, value in zip(REQUIRED_HEADERS, values, strict=True):
        if not value:
            raise Unauthenticated(f"missing header {name}", field=name, reason="missing_header")
        if REFUSED_CHARACTER.search(value):
            raise Unauthenticated(
                f"{name} holds a character that is not allowed (send UTF-8 text without control characters)",
                field=name,
                reason="bad_header",
            )
    app_id, timestamp, nonce, signature = values
    return app_id, timestamp, nonce, signature


def _check_freshness(timestamp: str, nonce: str, now: datetime, max_skew: int) -> None:
    """The checks that need no secret; they come before the app id is looked up, so their
    answers are the same for every app id."""
    if not plain_number(timestamp, MAX_TIMESTAMP_DIGITS):
        raise Unauthenticated("X-Timestamp must be unix seconds", field="X-Timestamp", reason="bad_timestamp")
    if abs(int(timestamp) - now.timestamp()) > max_skew:
        raise Unauthenticated(
            f"X-Timestamp is more than {max_skew}s away from the server clock",
            field="X-Timestamp",
            reason="stale_timestamp",
        )
    if len(nonce) > 128:
        raise Unauthenticated("X-Nonce is longer than 128 characters", field="X-Nonce", reason="bad_nonce")
