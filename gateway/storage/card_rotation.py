"""Key rotation of stored card and account numbers (`paygate keys rotate`).

Every column of type `EncryptedNumber` is read as stored; a number under another key than the
active one is decrypted and written again under the active key. The keyed hashes do not change
(the lookup key is not rotated by this command).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.card_vault import CardVault
from gateway.storage.tables import EncryptedNumber, metadata


def encrypted_columns() -> list[tuple[sa.Table, sa.Column[str]]]:
    """Every (table, column) whose numbers are stored encrypted."""
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedNumber)
    ]


async def rotate_card_keys(engine: AsyncEngine, vault: CardVault) -> int:
    """Re-encrypt every stored number not under the vault's active key; how many were."""
    rotated = 0
    for table, column in encrypted_columns():
        [key] = table.primary_key.columns
        stored = sa.literal_column(column.name, sa.String)  # the ciphertext, not decrypted
        select = sa.select(key, stored).select_from(table).where(column.isnot(None))
        async with engine.begin() as conn:
            rows = (await conn.execute(select)).all()
            for row_key, value in rows:
                if vault.is_current(value):
                    continue
                fresh = vault.encrypt(vault.decrypt(value))
                await conn.execute(
                    sa.text(f"UPDATE {table.name} SET {column.name} = :value WHERE {key.name} = :key"),
                    {"value": fresh, "key": row_key},
                )
                rotated += 1
    return rotated
