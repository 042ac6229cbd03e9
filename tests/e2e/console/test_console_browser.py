"""The console in headless Chromium against `paygate serve` (the shipped configuration): finance
approves a payout that then pays, an operator handles a failed bank bill, a viewer cannot act,
the timeline shows every node, a POST without the CSRF token is refused, the CSV export has a
BOM, and the login rate limit (last: it blocks the test address for the window)."""

from __future__ import annotations

import time

import pytest
from console_served import Served

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
from playwright.sync_api import Page, expect  # noqa: E402

BOM = b"\xef\xbb\xbf"


def log_in(page: Page, served: Served, login: str, password: str | None = None) -> None:
    page.goto(f"{served.base}/console")
    assert page.url.startswith(f"{served.base}/console/login")  # no page without login
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password or login)
    page.click("#login-submit")


def shot(page: Page, served: Served, name: str) -> None:
    page.screenshot(path=str(served.shots / f"{name}.png"), full_page=True)


def csrf_of(page: Page) -> str:
    token = page.get_attribute("input[name=csrf_token]", "value")
    assert token
    return token


def test_finance_approves_a_payout_which_then_pays(page: Page, served: Served) -> None:
    log_in(page, served, "demo-finance")
    expect(page.locator("#who")).to_have_text("demo-finance")
    expect(page.locator("#card-dash-payouts_review .count")).not_to_have_text("0")
    shot(page, served, "dashboard")
    page.click("#card-dash-payouts_review")
    shot(page, served, "payouts-pending")
    page.goto(f"{served.base}/console/payouts/review")
    page.check(f"input.pick[value={served.payout_id}]")
    shot(page, served, "review-queue")
    page.click("#approve-selected")
    expect(page.locator("#results")).to_contain_text(served.payout_id)
    expect(page.locator("#results")).to_contain_text("已通过")  # approved, in Chinese: not paid here
    shot(page, served, "review-results")
    deadline = time.monotonic() + 30
    status, payout = served.ops("GET", f"/ops/payouts/{served.payout_id}")
    while payout.get("status") in ("approved", "paying") and time.monotonic() < deadline:
        time.sleep(0.1)  # the gateway's payout worker pays it, off the reviewer's request
        status, payout = served.ops("GET", f"/ops/payouts/{served.payout_id}")
    assert status == 200 and payout["status"] == "succeeded", payout
    assert payout["review"]["reviewer"] == "demo-finance"
    status, audit = served.ops("GET", f"/ops/audit?subject_id={served.payout_id}")
    assert [(e["operator"], e["action"], e["outcome"]) for e in audit["data"]] == [
        ("demo-finance", "payouts/approve", "ok")
    ], audit
    page.goto(f"{served.base}/console/payouts/{served.payout_id}?lang=en")
    expect(page.locator("h1")).to_contain_text("Payouts")
    expect(page.locator("#timeline li.node").first).to_be_visible()
    assert "zhangsan@example.com" not in page.content()  # the payee account is masked
    shot(page, served, "payout-detail-en")


def test_operator_resends_a_failed_bank_bill(page: Page, served: Served) -> None:
    log_in(page, served, "demo-operator")
    page.goto(f"{served.base}/console/bills?needs_action=true")
    expect(page.locator(f"a[href='/console/bills/{served.failed_bill_id}']")).to_be_visible()
    shot(page, served, "bills-needing-action")
    page.click(f"a[href='/console/bills/{served.failed_bill_id}']")
    assert "6222020000002002" not in page.content()  # never a full card number
    shot(page, served, "bill-detail")
    page.click("#bill-actions a[data-action=resend_bank]")
    shot(page, served, "bill-action-confirm")
    page.fill("input[name=reason]", "银行拒绝后重新发起")
    page.click("#confirm")
    expect(page.locator("#timeline")).to_contain_text("demo-operator")
    shot(page, served, "bill-after-action")
    status, bill = served.ops("GET", f"/ops/bills/{served.failed_bill_id}")
    assert status == 200 and bill["attempt"] == 2, bill  # a second bank attempt was made
    status, audit = served.ops("GET", f"/ops/audit?subject_id={served.failed_bill_id}")
    assert [(e["operator"], e["action"], e["outcome"], e["note"]) for e in audit["data"]] == [
        ("demo-operator", "bills/actions/resend_bank", "ok", "reason: 银行拒绝后重新发起")
    ], audit  # the console's action is in the audit log, as /ops records its own


def test_the_timeline_shows_every_node_of_a_bill(page: Page, served: Served) -> None:
    log_in(page, served, "demo-viewer")
    page.goto(f"{served.base}/console/bills/{served.failed_bill_id}")
    status, flow = served.ops("GET", f"/ops/bills/{served.failed_bill_id}/flow")
    assert status == 200 and flow["flow"]
    drawn = page.locator("#timeline li.node").evaluate_all("nodes => nodes.map(n => n.dataset.node)")
    assert drawn == [r["node"] for r in flow["flow"]]
    expect(page.locator("#timeline li.node.bad").first).to_be_visible()  # the failure in its colour
    expect(page.locator("#timeline .since").first).to_be_visible()  # durations between nodes
    shot(page, served, "bill-timeline")


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused(page: Page, served: Served) -> None:
    log_in(page, served, "demo-viewer")
    page.goto(f"{served.base}/console/bills/{served.failed_bill_id}")
    expect(page.locator("#bill-actions")).to_have_count(0)
    page.goto(f"{served.base}/console/payouts/review")
    expect(page.locator("#approve-selected")).to_have_count(0)
    shot(page, served, "viewer-review-queue")
    token = csrf_of(page)
    url = f"{served.base}/console/bills/{served.failed_bill_id}/actions/resend_bank"
    forged = page.request.post(url, form={"csrf_token": token, "reason": "forged"})
    assert forged.status == 403
    forged = page.request.post(
        f"{served.base}/console/payouts/review",
        form={"csrf_token": token, "payout_id": served.payout_id, "decision": "reject", "reason": "x"},
    )
    assert forged.status == 403
    assert page.request.get(url).status == 403  # nor the confirm step


def test_a_post_without_the_csrf_token_is_refused(page: Page, served: Served) -> None:
    log_in(page, served, "demo-operator")
    page.goto(f"{served.base}/console")
    url = f"{served.base}/console/bills/{served.failed_bill_id}/actions/requery_bank"
    assert page.request.post(url, form={"reason": "no token"}).status == 403
    assert page.request.post(url, form={"reason": "bad", "csrf_token": "not-the-token"}).status == 403
    before = served.ops("GET", f"/ops/bills/{served.failed_bill_id}/flow")[1]["flow"]
    assert not [r for r in before if r.get("actor") == "demo-operator" and "requery" in str(r)]


def test_report_and_csv_exports_are_utf8_with_a_bom(page: Page, served: Served) -> None:
    log_in(page, served, "demo-finance")
    page.goto(f"{served.base}/console/report")
    expect(page.locator("#chart rect").first).to_be_attached()
    shot(page, served, "report")
    report = page.request.get(f"{served.base}/console/report.csv")
    assert report.status == 200 and report.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment; filename=" in report.headers["content-disposition"]
    assert report.body().startswith(BOM)
    assert report.body().decode("utf-8-sig").splitlines()[0].endswith("count,amount")
    items = page.request.get(f"{served.base}/console/report/items.csv")
    assert items.body().startswith(BOM)
    rows = items.body().decode("utf-8-sig").splitlines()
    assert rows[0].startswith("id,serial_no") and any("张三" in row for row in rows[1:])


def test_login_is_rate_limited(page: Page, served: Served) -> None:
    """Run last: the failures count against this client address too."""
    page.goto(f"{served.base}/console/login")
    statuses = []
    for _ in range(6):
        page.fill("input[name=login]", "demo-admin")
        page.fill("input[name=password]", "wrong password")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.click("#login-submit")
        statuses.append(answer.value.status)
    assert statuses == [401] * 5 + [429]
    expect(page.locator("#login-error")).to_contain_text("登录失败次数过多")
    shot(page, served, "login-rate-limited")
    # the right password is not even tried while the limit holds
    page.fill("input[name=login]", "demo-admin")
    page.fill("input[name=password]", "demo-admin")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#login-submit")
    assert answer.value.status == 429
