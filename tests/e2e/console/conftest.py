"""Fixtures of the console's browser tests: one `paygate serve` on the shipped configuration
for the module (a payout waiting for review, a bill the bank rejected), and headless Chromium
driven by Playwright; the tests skip with a message where either is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_served import CHROMIUM, Served, need_a_browser, seed, serve

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    need_a_browser()
    with serve(tmp_path_factory.mktemp("console")) as result:
        seed(result)
        yield result


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, whose operator says yes to every
    "really do this?" the console asks."""
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()
