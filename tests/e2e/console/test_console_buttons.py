"""Every action form of the console, pressed in Chromium as each role would press it, on fresh
subjects this module makes: the answer is a console page (never an error page, raw JSON or a
blank page) that says what happened, in the page's language, without a script error; the
subject changed as the button says (checked through /ops); a form someone else already acted
on is refused, not run again; a form is sent once however often it is clicked; a viewer and an
admin are offered no action. The gateway: `paygate serve` on the shipped configuration, with
the Alipay payout channel polled once before it escalates, and payouts over 1000 needing a
second finance operator."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from console_served import CARD_REJECTED, Served, need_a_browser, serve
from test_console_browser import log_in

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
from playwright.sync_api import Browser, Page, Response, expect  # noqa: E402

SECOND_FINANCE, SECOND_PASSWORD = "fin-2", "fin-2-password"


@dataclass
class Subjects:
    """What the module made for the buttons to act on."""

    payouts: list[str] = field(default_factory=list)  # waiting for review, 10.00 each
    big_payout: str = ""  # 2000.00: its approval is a proposal
    escalated_payment: str = ""
    failed_bills: list[str] = field(default_factory=list)


@dataclass
class World:
    served: Served
    made: Subjects


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Overrides conftest's: this module's gateway (the `browser` fixture starts beside it)."""
    need_a_browser()
    settings = {"[channels.alipay_payout]": "query_schedule_seconds = [1]"}
    env = {"PAYGATE_OPS__MAKER_CHECKER__PAYOUT_APPROVAL_OVER": "1000"}
    with serve(tmp_path_factory.mktemp("buttons"), settings, env) as result:
        yield result


def payout_item(amount: str, payee: str = "zhangsan@example.com") -> dict[str, Any]:
    ext = {"type": 6, "pay_method": 1, "reason": "航班延误垫付", "payee_name": "张三"}
    serial = f"BTN-{uuid.uuid4().hex[:8]}"
    return {
        "serial_no": serial,
        "order_serial_no": "ORD-1",
        "payee_account": payee,
        "amount": amount,
        "ext": ext,
    }


def wait_for(what: str, check: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)  # polling the served gateway's workers, bounded by the deadline
    raise AssertionError(f"{what}: not within {seconds} s")


def add_second_finance_operator(served: Served) -> None:
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "operators", "add", SECOND_FINANCE, "--role", "finance",
         "--password-stdin"],
        input=f"{SECOND_PASSWORD}\n", env=served.gw.env, cwd=served.gw.cwd, check=True, capture_output=True,
        text=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(served: Served) -> World:
    made = Subjects()
    status, batch = served.ops("POST", "/v1/payouts", {"items": [payout_item("10.00") for _ in range(6)]})
    assert status == 200 and batch["accepted"] == 6, batch
    made.payouts = [i["payout"]["id"] for i in batch["items"]]
    status, batch = served.ops("POST", "/v1/payouts", {"items": [payout_item("2000.00")]})
    made.big_payout = batch["items"][0]["payout"]["id"]
    status, batch = served.ops(
        "POST", "/v1/payouts", {"items": [payout_item("12.00", "dealing@example.com")]}
    )
    dealing = batch["items"][0]["payout"]["id"]
    status, approved = served.ops("POST", f"/ops/payouts/{dealing}/approve", {})
    assert status == 200, approved
    card = {"card_no": CARD_REJECTED, "name": "李四", "bank_name": "浦发银行上海分行"}
    account = {"kind": "C", "owner": "李四", "currency": "CNY", "bank_card": card}
    status, applicant = served.ops("POST", "/v1/accounts", account)
    for _ in range(2):
        loan = {"bill_code": f"JK-{uuid.uuid4().hex[:10]}", "pay_mode": "bank", "currency": "CNY",
                "applicant_account": applicant["id"], "amount": "250.00"}  # fmt: skip
        status, bill = served.ops("POST", "/v1/bills/loans", loan)
        assert status == 201, bill
        made.failed_bills.append(bill["id"])
    add_second_finance_operator(served)
    for bill_id in made.failed_bills:  # the send worker calls the bank, which refuses the card
        wait_for(
            f"{bill_id} failed",
            lambda b=bill_id: served.ops("GET", f"/v1/bills/{b}")[1]["status"] == "bank_failed",
        )

    def escalated() -> str | None:
        listed = served.ops("GET", "/ops/payments?escalated=true")[1]["data"]
        return next((p["id"] for p in listed if p["out_request_no"] == f"payout/{dealing}"), None)

    made.escalated_payment = wait_for("the dealing payout's payment escalated", escalated)
    wait_for("a failing webhook", lambda: served.ops("GET", "/ops/notifications?status=failing")[1]["data"])
    return World(served, made)


class Watched:
    """A browser page logged in as one operator, whose script errors are collected."""

    def __init__(self, browser: Browser, served: Served, login: str, password: str | None = None) -> None:
        self.context = browser.new_context(locale="zh-CN")
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.served, self.errors, self.posts = served, list[str](), list[str]()
        self.page.on("pageerror", lambda exc: self.errors.append(f"{self.page.url}: {exc}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        self.page.on("request", lambda r: self.posts.append(r.url) if r.method == "POST" else None)
        self.says_yes = True  # to the console's "really do this?"
        self.page.on("dialog", lambda dialog: dialog.accept() if self.says_yes else dialog.dismiss())
        log_in(self.page, served, login, password)
        expect(self.page.locator("#who")).to_have_text(login)
        self.posts.clear()  # the login's

    def _console(self, msg: Any) -> None:
        # a page answered 4xx (a refusal) is logged so too: the page itself is checked instead
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(f"{self.page.url}: {msg.text}")

    def _response(self, response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.errors.append(f"{response.status} for {response.url} (on {self.page.url})")

    def open(self, path: str) -> None:
        response = self.page.goto(f"{self.served.base}{path}")
        assert response is not None and response.status == 200, path

    def press(self, selector: str, expected_status: int = 200) -> Page:
        """Click a form's button; the answer must be a console page with a message."""
        with self.page.expect_navigation() as navigation:
            self.page.click(selector)
        answer_is_a_console_page(self.page, navigation.value, expected_status)
        return self.page

    def close(self) -> None:
        assert self.errors == [], self.errors
        self.context.close()


def answer_is_a_console_page(page: Page, response: Response | None, expected_status: int) -> None:
    assert response is not None and response.status == expected_status, (
        response and response.status,
        page.url,
    )
    html = page.content()
    assert '{"error"' not in html and "Traceback" not in html
    expect(page.locator("#who")).to_be_visible()  # the console's frame: not a blank or bare page
    said = page.locator("#results, #message, #flash")
    expect(said.first).to_be_visible()


@pytest.fixture
def operators(browser: Browser, world: World) -> Iterator[Callable[..., Watched]]:
    opened: list[Watched] = []

    def open_as(login: str, password: str | None = None) -> Watched:
        opened.append(Watched(browser, world.served, login, password))
        return opened[-1]

    yield open_as
    for watched in opened:
        watched.close()


def ops(world: World, path: str) -> Any:
    status, body = world.served.ops("GET", path)
    assert status == 200, body
    return body


def test_a_form_is_sent_once_and_only_after_the_operator_says_yes(
    world: World, operators: Callable[..., Watched]
) -> None:
    finance = operators("demo-finance")
    payout_id = world.made.payouts[5]
    finance.open(f"/console/payouts/{payout_id}")
    finance.says_yes = False
    finance.page.click("#review-one button[value=approve]")
    finance.page.wait_for_timeout(300)
    finance.says_yes = True
    assert finance.posts == [] and ops(world, f"/ops/payouts/{payout_id}")["status"] == "pending_review"
    with finance.page.expect_navigation() as navigation:  # two clicks before the answer comes
        finance.page.evaluate(
            """() => { const b = document.querySelector('#review-one button[value=approve]');
                       b.click(); b.click(); }"""
        )
    answer_is_a_console_page(finance.page, navigation.value, 200)
    expect(finance.page.locator("#results")).to_contain_text("已通过")
    assert len(finance.posts) == 1, finance.posts
    audit = ops(world, f"/ops/audit?subject_id={payout_id}")["data"]
    assert [(e["action"], e["outcome"]) for e in audit] == [("payouts/approve", "ok")], audit


@pytest.mark.parametrize("login", ["demo-viewer", "demo-admin"])
def test_a_role_without_actions_is_offered_none_and_its_filters_keep_their_state(
    world: World, operators: Callable[..., Watched], login: str
) -> None:
    looker = operators(login)
    made = world.made
    for path in [
        "/console/payouts/review", "/console/approvals", f"/console/payouts/{made.payouts[4]}",
        f"/console/bills/{made.failed_bills[1]}", f"/console/payments/{made.escalated_payment}",
        "/console/notifications?status=failing",
    ]:  # fmt: skip
        looker.open(path)
        assert looker.page.locator("main form[method=post] button").count() == 0, path
        assert looker.page.locator("#bill-actions").count() == 0, path
    looker.open("/console/payouts")
    looker.page.select_option("select[name=status]", "pending_review")
    looker.page.fill("input[name=app_id]", "demo")
    with looker.page.expect_navigation():
        looker.page.click("main form.filters button")
    expect(looker.page.locator("select[name=status]")).to_have_value("pending_review")
    looker.page.click("a.lang")  # English, the filters kept
    expect(looker.page.locator("h1")).to_have_text("Payouts")
    expect(looker.page.locator("select[name=status]")).to_have_value("pending_review")
    expect(looker.page.locator("input[name=app_id]")).to_have_value("demo")
    assert "zhangsan@example.com" not in looker.page.content()  # payee accounts masked
    looker.page.click("a.lang")  # back to Chinese for the next test's eyes
    with looker.page.expect_navigation():
        looker.page.click("header form button")  # log out
    expect(looker.page.locator("#login-submit")).to_be_visible()
    looker.page.go_back()  # a page of the ended session: the login again, not the page
    expect(looker.page.locator("#login-submit")).to_be_visible()


def test_an_operator_presses_every_button_of_bills_and_webhooks(
    world: World, operators: Callable[..., Watched]
) -> None:
    """In English: a bill action (and a second operator's stale form for it), a webhook replay."""
    first, second = operators("demo-operator"), operators("demo-operator")
    bill_id = world.made.failed_bills[0]
    first.open(f"/console/bills/{bill_id}?lang=en")
    second.open(f"/console/bills/{bill_id}/actions/resend_bank")  # opened before the first acts
    first.page.click("#bill-actions a[data-action=resend_bank]")
    first.page.fill("input[name=reason]", "bank refused: 重新发起 ✓")
    first.press("#confirm")
    expect(first.page.locator("#flash")).to_have_text("Done: Resend to the bank")
    assert ops(world, f"/ops/bills/{bill_id}")["attempt"] == 2
    second.page.fill("input[name=reason]", "me too")
    second.press("#confirm", expected_status=409)
    expect(second.page.locator("#message")).to_contain_text("打开此页面后对象已被更改")
    second.page.click("#back")
    expect(second.page.locator("h1")).to_contain_text(bill_id)
    assert ops(world, f"/ops/bills/{bill_id}")["attempt"] == 2, "the stale form did nothing"

    first.open("/console/notifications?status=failing")
    event_id = first.page.locator("button.replay").first.evaluate(
        "b => b.form.action.split('/notifications/')[1].split('/')[0]"
    )
    first.press(f"form[action='/console/notifications/{event_id}/replay'] button")
    expect(first.page.locator("#results")).to_contain_text("pending")
    audit = ops(world, "/ops/audit?action=notifications/replay&operator=demo-operator")["data"]
    assert [(e["subject_id"], e["outcome"]) for e in audit] == [(event_id, "ok")], audit


def proposal_row(subject_id: str) -> str:
    return f"#approvals tr:has(a[href$='/{subject_id}'])"


def test_finance_presses_every_button_of_review_resolve_and_approvals(
    world: World, operators: Callable[..., Watched]
) -> None:
    made = world.made
    finance, checker = operators("demo-finance"), operators(SECOND_FINANCE, SECOND_PASSWORD)
    finance.open("/console/payouts/review")  # bulk: two ticked, approved
    for payout_id in made.payouts[:2]:
        finance.page.check(f"input.pick[value={payout_id}]")
    finance.press("#approve-selected")
    expect(finance.page.locator("#results tr.ok")).to_have_count(2)
    for payout_id in made.payouts[:2]:
        assert ops(world, f"/ops/payouts/{payout_id}")["status"] != "pending_review"

    finance.open(f"/console/payouts/{made.payouts[2]}")  # one alone: a rejection needs a reason
    finance.press("#review-one button[value=reject]", expected_status=400)
    expect(finance.page.locator("#message")).to_have_text("驳回必须填写原因")
    finance.page.click("#back")
    finance.page.fill("#review-one input[name=reason]", "重复申请 <b>✓</b> " + "长" * 300)
    finance.press("#review-one button[value=reject]")
    expect(finance.page.locator("#results tr.ok")).to_contain_text("已驳回")
    assert ops(world, f"/ops/payouts/{made.payouts[2]}")["status"] == "rejected"

    checker.open(f"/console/payouts/{made.payouts[3]}")  # stale: finance approves it first
    finance.open(f"/console/payouts/{made.payouts[3]}")
    finance.press("#review-one button[value=approve]")
    checker.page.fill("#review-one input[name=reason]", "不同意")
    checker.press("#review-one button[value=reject]")
    expect(checker.page.locator("#results tr.bad")).to_contain_text("状态已变化，此操作不再适用")
    assert ops(world, f"/ops/payouts/{made.payouts[3]}")["status"] != "rejected"

    finance.open(f"/console/payouts/{made.big_payout}")  # over 1000: proposed, not approved
    finance.press("#review-one button[value=approve]")
    expect(finance.page.locator("#results")).to_contain_text("已提交复核")
    finance.open("/console/approvals")
    finance.press(f"{proposal_row(made.big_payout)} button.confirm", expected_status=403)
    expect(finance.page.locator("#results")).to_contain_text("不能确认自己的提议")
    late = operators(SECOND_FINANCE, SECOND_PASSWORD)
    late.open("/console/approvals")  # a second tab of the checker's, left open
    checker.open("/console/approvals")
    checker.press(f"{proposal_row(made.big_payout)} button.confirm")
    expect(checker.page.locator("#results")).to_contain_text("已确认，渠道执行中")
    late.press(f"{proposal_row(made.big_payout)} button.confirm", expected_status=409)
    expect(late.page.locator("#results")).to_contain_text("该提议已被处理")
    wait_for(
        "the big payout approved",
        lambda: ops(world, f"/ops/payouts/{made.big_payout}")["status"] != "pending_review",
    )

    payment_id = made.escalated_payment  # an escalated payment: its outcome proposed with evidence
    finance.open(f"/console/payments/{payment_id}")
    finance.page.fill("#resolve input[name=evidence]", "支付宝工单 2026-88")
    finance.page.fill("#resolve input[name=note]", "no money left the account")
    finance.press("#resolve button")
    expect(finance.page.locator("#results")).to_contain_text("渠道查询中")

    def proposal() -> Any:
        found = [a for a in ops(world, "/ops/approvals?status=any")["data"] if a["subject_id"] == payment_id]
        return found and found[0]["status"] != "checking" and found[0]

    assert wait_for("the proposal checked at the channel", proposal)["status"] == "pending"
    checker.open("/console/approvals")
    checker.page.fill(f"{proposal_row(payment_id)} input[name=reason]", "证据不足")
    checker.press(f"{proposal_row(payment_id)} button.reject")
    expect(checker.page.locator("#results")).to_contain_text("已驳回")
    assert proposal()["status"] == "rejected"
