"""Migration 0007 encrypts the card and account numbers a database already holds (and hashes the
accounts' cards); its downgrade gives them back in clear."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from gateway.migrate import alembic_config, upgrade
from gateway.storage import card_vault

CARD = "6222020000000001"
# a row of each table holding numbers, as revision 0005 stored them
NUMBERS: dict[str, dict[str, str]] = {
    "accounts": {"card_no": CARD},
    "payments": {"payer_account": "95200078800000001", "payee_account": CARD},
    "bills": {"payer_card_no": "95200078800000001", "payee_card_no": CARD},
    "payouts": {"payee_account": CARD},
}


def _filler(column: sa.Column[Any]) -> Any:
    """A value for a NOT NULL column the test does not care about."""
    python_type = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
    return {
        int: 0,
        bool: False,
        str: "x",
        dict: "{}",
        datetime: datetime(2026, 1, 1, tzinfo=UTC).isoformat(" "),
    }.get(python_type, "x")


def _insert(conn: sa.Connection, table: str, values: dict[str, str]) -> None:
    reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
    row = {
        c.name: _filler(c)
        for c in reflected.columns
        if not c.nullable and c.name not in values and not (c.primary_key and c.autoincrement is True)
    }
    row.update(values, id=f"{table}_1")
    conn.execute(
        sa.text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"), row
    )


def _stored(conn: sa.Connection) -> dict[str, dict[str, str]]:
    return {
        table: dict(conn.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table}")).mappings().one())
        for table, columns in NUMBERS.items()
    }


def test_upgrade_encrypts_stored_numbers_and_downgrade_restores_them(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        for table, values in NUMBERS.items():
            _insert(conn, table, values)

    upgrade(url, "0007")
    vault = card_vault.current()
    with engine.connect() as conn:
        stored = _stored(conn)
        card_hash = conn.execute(sa.text("SELECT card_no_hash FROM accounts")).scalar_one()
    for table, values in NUMBERS.items():
        for column, number in values.items():
            assert stored[table][column].startswith("v1:") and number not in stored[table][column]
            assert vault.decrypt(stored[table][column]) == number
    assert card_hash == vault.lookup_hash(CARD)

    command.downgrade(alembic_config(url), "0006")
    with engine.connect() as conn:
        assert _stored(conn) == NUMBERS
    engine.dispose()
