"""approval leases: the approvals worker's claim on a checking/executing approval

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 12:00:00

approvals
    leased_by, leased_until    the worker holding a checking/executing approval, and until when;
                               the worker's due read uses ix_approvals_status_created_at_id
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("leased_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("leased_until")
        batch.drop_column("leased_by")
