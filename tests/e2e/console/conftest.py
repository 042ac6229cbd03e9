"""Fixtures of the console's browser tests: one `paygate serve` on the shipped configuration
for the module (a payout waiting for review, a bill the bank rejected), and headless Chromium
driven by Playwright; the tests skip with a message where either is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from console_served import Served, seed
from paygate_testkit import shipped_gateway

CHROMIUM = "/usr/bin/chromium"

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if sync_playwright is None:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium (see .ci/run)")
    tmp = tmp_path_factory.mktemp("console")
    gw = shipped_gateway(tmp, "http://127.0.0.1:9/hook")  # no receiver: webhooks keep failing
    gw.start()
    try:
        result = Served(gw, f"http://127.0.0.1:{gw.port}", "", "", tmp / "screenshots")
        result.shots.mkdir()
        seed(result)
        yield result
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test."""
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
