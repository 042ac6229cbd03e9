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
