"""console csrf not stored: a session's CSRF token is derived from its id, not kept

Revision ID: 0018_console_csrf_not_stored
Revises: 0017_due_queries_index
Create Date: 2026-12-05 02:30:00

console_sessions.csrf   dropped. The token is now an HMAC of the session id
                        (gateway/console/session.py `csrf_token_of`), and the database holds
                        only the id's sha256, so a read of the table gives no token to forge a
                        console form with. Sessions live on: their token is derived the same way
                        in every process (a page rendered before the upgrade asks to be reloaded
                        once).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_console_csrf_not_stored"
down_revision: str | None = "0017_due_queries_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("csrf")


def downgrade() -> None:
    # the old code reads a stored token: sessions started before the downgrade are logged out
    op.execute("DELETE FROM console_sessions")
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("csrf", sa.String(length=64), nullable=False, server_default=""))
