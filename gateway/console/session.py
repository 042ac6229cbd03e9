"""Console sessions: what the console keeps about a logged-in operator (`Session`: login, when
it started and was last seen, its CSRF token and language), the store the console keeps them in
(`SessionStore`), and the rules of their expiry (`Expiry`, settings `console`).

The store is the database (gateway/storage/console_sessions.py): every gateway process on the
database finds a session any of them started, and a restart logs no one out. The browser holds
the session's random id in a cookie (gateway/console/cookie.py); the database holds only its
sha256. The session's CSRF token is derived from the id (`csrf_token_of`), never stored: a
read of the table (a backup, a replica) hands out neither a session nor a token to forge a
form with.

`seen` is written at most once per `Expiry.seen_step` (a minute; a quarter of the idle time if
that is shorter), not at every page view: a session ends after `console.idle_minutes` without a
request, or up to one step sooner, and never later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gateway.settings import ConsoleSettings

SEEN_STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    """One logged-in operator's session (its id is the cookie's, never kept with it)."""

    login: str
    started: datetime
    seen: datetime
    csrf: str
    lang: str | None = None


def new_session_id() -> str:
    """A random 256-bit id, new at every login."""
    return secrets.token_urlsafe(32)


# what makes a session's CSRF token differ from anything else derived from its id (the stored
# key is its plain sha256)
_CSRF_KEY = b"paygate console csrf token v1"


def csrf_token_of(session_id: str) -> str:
    """The CSRF token of the session with this id: an HMAC of the id, so only the holder of the
    id (the browser's cookie) has it, and every gateway process finds the same one."""
    digest = hmac.new(_CSRF_KEY, session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Expiry:
    """When a session ends: `idle` after it was last seen, `absolute` after its login."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings: ConsoleSettings) -> Expiry:
        return cls(timedelta(minutes=settings.idle_minutes), timedelta(hours=settings.absolute_hours))

    @property
    def seen_step(self) -> timedelta:
        """How far `seen` must have moved before it is written again."""
        return min(SEEN_STEP, self.idle / 4)

    def expired(self, session: Session, now: datetime) -> bool:
        return session.seen < self.idle_cutoff(now) or session.started < self.absolute_cutoff(now)

    def seen_due(self, session: Session, now: datetime) -> bool:
        """Whether a request at `now` writes the session's `seen`."""
        return now - session.seen >= self.seen_step

    def idle_cutoff(self, now: datetime) -> datetime:
        """Sessions last seen before this have expired."""
        return now - self.idle

    def absolute_cutoff(self, now: datetime) -> datetime:
        """Sessions started before this have expired."""
        return now - self.absolute


class SessionStore(Protocol):
    """Where the console keeps its sessions, by the id in the cookie."""

    async def start(self, login: str, lang: str | None = None) -> tuple[str, Session]:
        """A new session (a new random id, a new CSRF token); expired sessions are dropped."""
        ...

    async def find(self, session_id: str | None) -> Session | None:
        """The live session with this id (seen now), or None; an expired one is dropped."""
        ...

    async def set_lang(self, session_id: str, lang: str) -> None:
        """The session's language from now on."""
        ...

    async def end(self, session_id: str | None) -> None:
        """The session is gone (logout, a disabled operator)."""
        ...
