"""The console's session cookie: `paygate_console`, HttpOnly, SameSite=Strict, Path=/console,
Secure when the request came over TLS or `console.secure_cookie` is set, kept by the browser
no longer than a session may last (`console.absolute_hours`)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.http.request_body import header_text
from gateway.settings import ConsoleSettings

COOKIE = "paygate_console"


@dataclass(frozen=True)
class SessionCookie:
    """How the console sets and clears its session cookie."""

    secure: bool  # Secure also over plain HTTP (behind a TLS-terminating proxy)
    max_age: int  # seconds

    @classmethod
    def from_settings(cls, settings: ConsoleSettings) -> SessionCookie:
        return cls(settings.secure_cookie, settings.absolute_hours * 3600)

    def secure_for(self, request: web.Request) -> bool:
        return self.secure or request.secure

    def set(self, request: web.Request, response: web.StreamResponse, session_id: str) -> None:
        response.set_cookie(
            COOKIE,
            session_id,
            httponly=True,
            samesite="Strict",
            secure=self.secure_for(request),
            path="/console",
            max_age=self.max_age,
        )

    def clear(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/console")


SESSION_COOKIE: web.AppKey[SessionCookie] = web.AppKey("console_session_cookie", SessionCookie)


def session_id_of(request: web.Request) -> str | None:
    """The session id the browser sent, if any (a cookie that is not text is none)."""
    return header_text(request.cookies.get(COOKIE)) or None
