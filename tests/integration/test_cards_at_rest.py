"""Card numbers at rest: after a bank bill, a refused bill and an account with a card, the full
numbers are nowhere in the database (SQLite file bytes, PostgreSQL rows), while answers and logs
show them masked and the bank still gets the full number; key rotation re-encrypts every row."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_bills_api import (  # the bills API's gateway and bank simulator fixtures
    CARD_OK,
    Gateway,
    gw,
    sandbox,
    start_gateway,
)
from test_payouts import Env, approved, bank_item, env

from gateway.storage import card_vault
from gateway.storage.card_rotation import encrypted_columns, rotate_card_keys
from gateway.storage.card_vault import CardVault
from gateway.storage.tables import metadata
from plugins.spdb.sandbox import SpdbSandbox

__all__ = ["env", "gw", "sandbox", "start_gateway"]

WRONG_CARD = "6222029999999999"  # not the applicant's registered card: the bill is refused


async def _stored_text(container: Any) -> str:
    """Everything the database holds, as text: the file's bytes on SQLite, every row on PostgreSQL."""
    engine = container.engine()
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1")
    texts = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = await conn.execute(sa.text(f"SELECT CAST(t AS text) FROM {table.name} t"))
            texts.extend(str(row[0]) for row in rows)
    return "\n".join(texts)


async def _bank_loan_and_refused_loan(gw: Gateway) -> tuple[dict[str, Any], dict[str, Any]]:
    applicant = await gw.applicant(CARD_OK)
    status, account = await gw.api.get(f"/v1/accounts/{applicant}")
    assert status == 200 and CARD_OK not in json.dumps(account), account
    status, paid = await gw.loan(applicant, "12.00")
    assert status == 201, paid
    await gw.settle()
    status, refused = await gw.loan(applicant, "13.00", payee_card_no=WRONG_CARD)
    assert status == 422 and WRONG_CARD not in json.dumps(refused), refused
    return await gw.bill(paid["id"]), refused


async def test_full_card_numbers_are_nowhere_at_rest_yet_reach_the_bank(
    gw: Gateway, sandbox: SpdbSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        paid, refused = await _bank_loan_and_refused_loan(gw)
    assert paid["status"] == "completed" and paid["payee_card_no"] == "************0001"
    [sent] = sandbox.payments.values()
    assert sent.fields["payeeAcctNo"] == CARD_OK, "the bank gets the full number, decrypted"

    stored = await _stored_text(gw.container)
    for number in (CARD_OK, WRONG_CARD):
        assert number not in stored
    assert "v1:test1:" in stored
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert CARD_OK not in logged and WRONG_CARD not in logged


async def test_a_bank_payouts_card_is_nowhere_at_rest_yet_reaches_alipay(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        paid = await approved(env.api, bank_item("AT-REST-1"))
    assert paid["status"] == "succeeded" and paid["payee_account"] == "6222********0001"
    [sent] = env.sent()
    assert sent["payee_info"]["identity"] == CARD_OK, "Alipay gets the full number, decrypted"
    assert CARD_OK not in await _stored_text(env.container)
    assert not any(CARD_OK in record.getMessage() for record in caplog.records)


async def test_rotation_re_encrypts_every_number_under_the_active_key(gw: Gateway) -> None:
    paid, _ = await _bank_loan_and_refused_loan(gw)
    engine = gw.container.engine()
    old = card_vault.current()
    new_key = os.urandom(32)
    rotated = CardVault({**old.keys, "next": new_key}, "next", old.lookup_key)
    card_vault.install(rotated)
    try:
        assert await rotate_card_keys(engine, rotated) > 0
        assert await rotate_card_keys(engine, rotated) == 0, "a second run has nothing left to do"
        async with engine.connect() as conn:
            for table, column in encrypted_columns():
                raw = sa.literal_column(column.name, sa.String)
                values = (
                    await conn.execute(sa.select(raw).select_from(table).where(column.isnot(None)))
                ).scalars()
                assert all(value.startswith("v1:next:") for value in values), (table.name, column.name)
        # only the new key is needed now: the old one can go
        card_vault.install(CardVault({"next": new_key}, "next", old.lookup_key))
        assert (await gw.bill(paid["id"]))["payee_card_no"] == "************0001"
    finally:
        card_vault.install(old)
