"""console sessions: the web console's sessions, shared by every gateway process

Revision ID: 0016_console_sessions
Revises: 0015
Create Date: 2026-12-04 15:00:00

console_sessions
    id_hash          sha256 (hex) of the session id in the cookie; the id itself is never stored
    login            the operator's login
    started, seen    the login, and the last request (written once a minute at most)
    csrf, lang       the session's CSRF token and language
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_console_sessions"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
    )


def downgrade() -> None:
    op.drop_table("console_sessions")
