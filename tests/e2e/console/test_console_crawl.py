"""Every console link a role is shown leads somewhere: as each demo role, in both languages,
the browser follows every /console link of every page it reaches (GET only, up to a bound) and
no page answers an error or raises a script error."""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from console_served import Served
from test_console_browser import log_in

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
from playwright.sync_api import Page  # noqa: E402

MAX_PAGES = 60  # per role and language: every kind of page is reached well before
SKIP = re.compile(r"/console/(logout|login)\b|\.csv$")  # the CSV exports: tested on their own


def crawl(page: Page, served: Served, lang: str) -> tuple[int, list[str]]:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script error on {page.url}: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type} on {page.url}: {msg.text}") if msg.type == "error" else None
        ),
    )
    todo, seen = [f"{served.base}/console?lang={lang}"], set()
    while todo and len(seen) < MAX_PAGES:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        status = response.status if response else 0
        if status >= 400:
            problems.append(f"{status} on {url}")
            continue
        for href in page.locator("a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
            target = urldefrag(urljoin(page.url, href))[0]
            path = urlparse(target).path
            if target.startswith(served.base) and path.startswith("/console") and not SKIP.search(path):
                todo.append(target)
    return len(seen), problems


@pytest.mark.parametrize("login", ["demo-viewer", "demo-operator", "demo-finance", "demo-admin"])
def test_every_link_a_role_is_shown_answers_without_error(page: Page, served: Served, login: str) -> None:
    log_in(page, served, login)
    for lang in ("zh", "en"):
        visited, problems = crawl(page, served, lang)
        assert visited > 5, f"{login} reached only {visited} pages"
        assert problems == [], problems
