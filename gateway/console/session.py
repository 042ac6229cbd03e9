"""Console sessions, kept server-side: a random id in a cookie (gateway/console/cookie.py), an
idle and an absolute expiry (settings `console`), and the session's CSRF token and language.

The store lives in the gateway process's memory: a restart logs everyone out, and several
gateway processes behind one address need sticky sessions (docs/CONSOLE.md)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.ids import utcnow
from gateway.settings import ConsoleSettings


@dataclass
class Session:
    """One logged-in operator's session."""

    login: str
    started: datetime
    seen: datetime
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    lang: str | None = None


class SessionStore:
    """Sessions by their random id; expired ones are dropped when looked up or on login."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.idle = timedelta(minutes=settings.idle_minutes)
        self.absolute = timedelta(hours=settings.absolute_hours)
        self._sessions: dict[str, Session] = {}

    def start(self, login: str) -> tuple[str, Session]:
        self._drop_expired(utcnow())
        now = utcnow()
        session_id = secrets.token_urlsafe(32)
        session = Session(login=login, started=now, seen=now)
        self._sessions[session_id] = session
        return session_id, session

    def find(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle clock restarted), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = utcnow()
        if session is None or self._expired(session, now):
            self._sessions.pop(session_id, None)
            return None
        session.seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _expired(self, session: Session, now: datetime) -> bool:
        return now - session.seen > self.idle or now - session.started > self.absolute

    def _drop_expired(self, now: datetime) -> None:
        for session_id in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[session_id]
