"""Fixtures of the end-to-end tests: the shipped configuration served on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from paygate_testkit import ServedGateway, free_port, shipped_gateway


@pytest.fixture
def hook_port() -> int:
    """Where the caller app's webhook receiver listens."""
    return free_port()


@pytest.fixture
def gateway(tmp_path: Path, hook_port: int) -> Iterator[ServedGateway]:
    """`paygate serve` with the shipped paygate.toml (started by the test), webhooks to hook_port."""
    gw = shipped_gateway(tmp_path, f"http://127.0.0.1:{hook_port}/hook")
    yield gw
    gw.stop()
