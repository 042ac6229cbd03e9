"""card and account numbers encrypted at rest

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 06:50:00

Widens the columns that hold card and account numbers to the ciphertext's length, adds the
accounts' keyed-hash column, and encrypts the numbers already stored with the process's card
vault (gateway/storage/card_vault.py). The downgrade decrypts them again.

The old clear text may survive in the database's free pages (SQLite) or dead row versions
(PostgreSQL) until they are reused: run `VACUUM` (PostgreSQL: `VACUUM FULL` of the four tables)
after upgrading a database that held real numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from gateway.storage import card_vault

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (its key column, its number columns with their length before this revision)
NUMBER_COLUMNS: dict[str, tuple[str, dict[str, int]]] = {
    "accounts": ("id", {"card_no": 32}),
    "payments": ("id", {"payer_account": 64, "payee_account": 64}),
    "bills": ("id", {"payer_card_no": 32, "payee_card_no": 32}),
    "payouts": ("id", {"payee_account": 128}),
}
ENCRYPTED_LENGTH = 255


def _rewrite(convert: Callable[[str], str]) -> None:
    """Every stored number of every table passed through `convert`, row by row."""
    conn = op.get_bind()
    for table, (key, columns) in NUMBER_COLUMNS.items():
        for column in columns:
            rows = conn.execute(
                sa.text(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")
            ).all()
            update = sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :key")
            for row_key, value in rows:
                conn.execute(update, {"value": convert(value), "key": row_key})


def _hash_cards() -> None:
    conn = op.get_bind()
    vault = card_vault.current()
    rows = conn.execute(sa.text("SELECT id, card_no FROM accounts WHERE card_no IS NOT NULL")).all()
    update = sa.text("UPDATE accounts SET card_no_hash = :hash WHERE id = :id")
    for account_id, card_no in rows:
        conn.execute(update, {"hash": vault.lookup_hash(card_no), "id": account_id})


def upgrade() -> None:
    for table, (_key, columns) in NUMBER_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, old_length in columns.items():
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=old_length),
                    type_=sa.String(length=ENCRYPTED_LENGTH),
                )
            if table == "accounts":
                batch_op.add_column(sa.Column("card_no_hash", sa.String(length=64), nullable=True))
                batch_op.create_index(batch_op.f("ix_accounts_card_no_hash"), ["card_no_hash"], unique=False)
    _hash_cards()
    vault = card_vault.current()
    _rewrite(lambda value: value if vault.is_encrypted(value) else vault.encrypt(value))


def downgrade() -> None:
    vault = card_vault.current()
    _rewrite(lambda value: vault.decrypt(value) if vault.is_encrypted(value) else value)
    for table, (_key, columns) in NUMBER_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "accounts":
                batch_op.drop_index(batch_op.f("ix_accounts_card_no_hash"))
                batch_op.drop_column("card_no_hash")
            for column, old_length in columns.items():
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=ENCRYPTED_LENGTH),
                    type_=sa.String(length=old_length),
                )
