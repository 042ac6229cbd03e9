"""Row tables of operators and their API tokens, on the gateway's one `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import UTCDateTime, metadata

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(128), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, with its parameters
    sa.Column("roles", sa.String(64), nullable=False),  # role names, sorted, comma-separated
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

operator_tokens = sa.Table(
    "operator_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("operator_id", sa.String(40), sa.ForeignKey("operators.id"), nullable=False),
    # sha256 of the token: a random 32-byte token needs no slow hash, and is shown only once
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),  # the token's first characters, for lists
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Index("ix_operator_tokens_operator_id", "operator_id"),
)
