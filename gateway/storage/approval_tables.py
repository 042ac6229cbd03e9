"""Row tables of the audit log and of the approvals (maker-checker), on the gateway's one `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import Json, UTCDateTime, metadata

# one row per /ops action and per operator change by the CLI; `created_at` is when it happened
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("operator", sa.String(64), nullable=False),  # the acting operator's login
    sa.Column("role", sa.String(16), nullable=True),  # the role the action needed
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(32), nullable=True),
    sa.Column("subject_id", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=True),  # the reason or note the operator gave
    sa.Column("trace_id", sa.String(64), nullable=True),
    sa.Column("client", sa.String(64), nullable=True),  # the client's address
    sa.Index("ix_audit_log_created_at_id", "created_at", "id"),
    sa.Index("ix_audit_log_operator_created_at_id", "operator", "created_at", "id"),
    sa.Index("ix_audit_log_subject_id_created_at_id", "subject_id", "created_at", "id"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),  # when it was proposed
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("subject_type", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("proposed_by", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("result", Json, nullable=True),
    # the approvals worker's claim on a checking/executing approval: another worker takes it over
    # once `leased_until` has passed (its worker stopped around the channel calls)
    sa.Column("leased_by", sa.String(64), nullable=True),
    sa.Column("leased_until", UTCDateTime(), nullable=True),
    sa.Index("ix_approvals_status_created_at_id", "status", "created_at", "id"),
)
