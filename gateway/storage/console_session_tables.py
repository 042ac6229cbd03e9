"""The row table of the web console's sessions, on the gateway's one `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import UTCDateTime, metadata

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    # sha256 of the session id (hex): a read of the table hands out no live session
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("login", sa.String(64), nullable=False),
    sa.Column("started", UTCDateTime(), nullable=False),
    sa.Column("seen", UTCDateTime(), nullable=False),  # written once a minute at most
    sa.Column("lang", sa.String(8), nullable=True),  # None: the default language
)
