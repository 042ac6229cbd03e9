"""The `paygate` command as an operator runs it: plugins, routes check, migrate, bad settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
    env["PAYGATE_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=config.parent,  # what the command writes under data/ (demo card keys) stays in the test's folder
    )


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "paygate.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cli.db"\n'
        '[[routing.rules]]\nname = "t"\npay_method = "transfer"\nchannel = "internal_transfer"\n' + extra
    )
    return config


def test_plugins_lists_installed_channels_and_capabilities(tmp_path: Path) -> None:
    result = run(["plugins"], write_config(tmp_path))
    assert result.returncode == 0, result.stderr
    [channel] = [c for c in json.loads(result.stdout) if c["code"] == "internal_transfer"]
    assert channel["pay_methods"] == ["transfer"] and "payment" in channel["ports"]


def test_routes_check_accepts_good_rules(tmp_path: Path) -> None:
    result = run(["routes", "check"], write_config(tmp_path))
    assert result.returncode == 0 and "1 routing rules valid" in result.stdout


def test_routes_check_names_a_rule_for_a_missing_channel(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[routing.rules]]\nname = "nope"\npay_method = "x"\nchannel = "ghost"\n')
    result = run(["routes", "check"], config)
    assert result.returncode == 2
    assert "routing.rules[1] (nope): channel 'ghost' is not installed" in result.stderr


def test_bad_settings_stop_with_the_key_named(tmp_path: Path) -> None:
    result = run(["routes", "check"], write_config(tmp_path, "[server]\nport = -1\n"))
    assert result.returncode == 2 and "server.port" in result.stderr


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = run(["migrate"], write_config(tmp_path))
    assert result.returncode == 0, result.stderr
    import sqlite3

    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "cli.db").execute(
            "select name from sqlite_master where type='table'"
        )
    }
    assert {"payments", "ledger_entries", "outbox", "pay_life_log"} <= tables


def test_routes_check_reports_a_shadowed_rule_and_every_condition(tmp_path: Path) -> None:
    later = '[[routing.rules]]\nname = "big"\npay_method = "transfer"\nchannel = "internal_transfer"\n'
    result = run(["routes", "check"], write_config(tmp_path, later + 'min_amount = "1000"\n'))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok       #1 t -> internal_transfer: pay_method=transfer business_type=any")
    assert lines[1].startswith("SHADOWED #2 big -> internal_transfer: pay_method=transfer business_type=any")
    assert "amount=1000..any submitters=bills|callers|lease|payouts" in lines[1]
    assert lines[2].strip() == "never matches: t (#1) takes every request it could match"
    assert lines[-1] == "1 of 2 routing rules can never match"


def _security(keys: dict[str, str], active: str, lookup: str) -> str:
    listed = ", ".join(f'{key_id} = "{key}"' for key_id, key in keys.items())
    return f'[security]\ncard_keys = {{ {listed} }}\nactive_key_id = "{active}"\nlookup_key = "{lookup}"\n'


def test_keys_rotate_re_encrypts_stored_numbers_under_the_active_key(tmp_path: Path) -> None:
    import base64
    import sqlite3
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from gateway.storage import card_vault
    from gateway.storage.card_vault import CardVault
    from gateway.storage.tables import accounts

    old, new, lookup = (base64.b64encode(os.urandom(32)).decode() for _ in range(3))
    assert run(["migrate"], write_config(tmp_path, _security({"old": old}, "old", lookup))).returncode == 0
    before = card_vault.current()
    card_vault.install(CardVault.from_encoded({"old": old}, "old", lookup))
    try:
        engine = sa.create_engine(f"sqlite:///{tmp_path}/cli.db")
        with engine.begin() as conn:
            conn.execute(
                accounts.insert().values(
                    id="acc_1", owner="张三", kind="C", currency="CNY", status="normal",
                    allow_overdraft=False, available_minor=0, pending_minor=0,
                    created_at=datetime.now(UTC), card_no="6222020000000001",
                )
            )  # fmt: skip
        engine.dispose()
    finally:
        card_vault.install(before)

    rotated = run(
        ["keys", "rotate"], write_config(tmp_path, _security({"old": old, "new": new}, "new", lookup))
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "1 stored numbers re-encrypted under card key 'new'" in rotated.stdout
    with sqlite3.connect(tmp_path / "cli.db") as db:
        [(stored,)] = db.execute("SELECT card_no FROM accounts").fetchall()
    assert stored.startswith("v1:new:")
    again = run(["keys", "rotate"], write_config(tmp_path, _security({"new": new}, "new", lookup)))
    assert again.returncode == 0 and again.stdout.startswith("0 stored numbers"), again.stderr


def test_an_active_card_key_that_is_not_listed_stops_the_command(tmp_path: Path) -> None:
    import base64

    key = base64.b64encode(os.urandom(32)).decode()
    result = run(["keys", "rotate"], write_config(tmp_path, _security({"k1": key}, "k2", key)))
    assert result.returncode == 2 and "active card key 'k2'" in result.stderr
