"""What an action's results page shows per subject: done (with the status it now has, shown by
the catalogue's `status.*` label), or refused (the catalogue's words for the refusal in the
operator's language, with the use case's own message below them)."""

from __future__ import annotations

from typing import Any

from core.errors import DomainError
from gateway.console.i18n import error_key


def done(subject: str, status: str) -> dict[str, Any]:
    return {"id": subject, "ok": True, "message": f"status.{status}", "detail": None}


def refused(subject: str, exc: DomainError) -> dict[str, Any]:
    return {
        "id": subject,
        "ok": False,
        "message": error_key(exc.code, exc.http_status),
        "detail": exc.message,
    }
