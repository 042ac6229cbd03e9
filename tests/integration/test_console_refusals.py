"""The console's answers to what goes wrong, over HTTP (no browser): a refusal in the
operator's language, a form acted on by someone else first, an empty selection, an address
that is no page, a session that ended under a form; the browser tests are in tests/e2e/console."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from paygate_testkit import SignedClient
from test_console_pages import apply_payouts, csrf_token, log_in
from test_console_pages import settings as settings  # payouts accepted for review
from yarl import URL

from gateway.storage.console_session_tables import console_sessions
from gateway.storage.tables import outbox


async def review(api: SignedClient, decision: str, *payout_ids: str, reason: str = "") -> tuple[int, str]:
    form = [("csrf_token", await csrf_token(api)), ("decision", decision), ("reason", reason)]
    answer = await api.client.post(
        "/console/payouts/review", data=form + [("payout_id", i) for i in payout_ids]
    )
    return answer.status, await answer.text()


async def test_a_refusal_is_said_in_the_operators_language(api: SignedClient) -> None:
    """A payout someone already rejected: approving it again is refused in Chinese (and in
    English on an English page), with the use case's own words below."""
    [payout_id] = await apply_payouts(api, 1)
    await log_in(api, "demo-finance")
    status, page = await review(api, "reject", payout_id, reason="重复申请")
    assert status == 200 and "已驳回" in page
    status, page = await review(api, "approve", payout_id)
    assert "状态已变化，此操作不再适用" in page, page
    assert 'class="detail"' in page  # the use case's message, below
    await api.client.get("/console?lang=en")
    status, page = await review(api, "approve", payout_id)
    assert "Its state has changed: this action no longer applies" in page, page


async def test_a_decision_with_nothing_ticked_says_so(api: SignedClient) -> None:
    await log_in(api, "demo-finance")
    for decision in ("approve", "reject"):
        status, page = await review(api, decision, reason="x")
        assert status == 400 and "未勾选任何代付" in page, page


async def test_an_address_that_is_no_page_answers_a_console_page(api: SignedClient) -> None:
    """Not the API's JSON error: an unknown /console path, and a form's address opened with GET."""
    await log_in(api, "demo-operator")
    for path in ("/console/nonexistent", "/console/approvals/apr_x/confirm", "/console/logout"):
        answer = await api.client.get(path)
        assert answer.status == 404 and answer.content_type == "text/html", path
        assert "没有这个页面" in await answer.text()
    static = await api.client.get("/console/static/console.css")
    assert static.status == 200 and static.content_type == "text/css"


async def expire_sessions(container: Any) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with container.engine().begin() as conn:
        await conn.execute(console_sessions.update().values(seen=an_hour_ago))


async def test_a_form_sent_after_the_session_ended_logs_in_back_to_its_page(
    api: SignedClient, container: Any
) -> None:
    """The login page says the session ended, and leads back to the page the form was on (the
    form's address is no page), or to the page asked for with its filters."""
    await log_in(api, "demo-finance")
    token = await csrf_token(api)
    await expire_sessions(container)
    on_page = f"http://{api.client.host}:{api.client.port}/console/approvals"
    answer = await api.client.post(
        "/console/approvals/apr_x/confirm",
        data={"csrf_token": token},
        headers={"Referer": on_page},
        allow_redirects=False,
    )
    assert answer.status == 303
    login_url = URL(answer.headers["Location"])
    assert login_url.path == "/console/login" and login_url.query["next"] == "/console/approvals"
    assert "会话已结束" in await (await api.client.get(str(login_url))).text()
    back = await log_in(api, "demo-finance", next_page=login_url.query["next"])
    assert back.headers["Location"] == "/console/approvals"
    await expire_sessions(container)
    answer = await api.client.get("/console/payouts?status=rejected&app_id=demo", allow_redirects=False)
    assert URL(answer.headers["Location"]).query["next"] == "/console/payouts?status=rejected&app_id=demo"


async def test_the_language_switch_keeps_the_filters(api: SignedClient) -> None:
    await log_in(api, "demo-viewer")
    page = await (await api.client.get("/console/payouts?status=rejected&app_id=demo")).text()
    found = re.search(r'class="lang" href="([^"]+)"', page)
    assert found
    switched = URL(found.group(1).replace("&amp;", "&"))
    assert switched.path == "/console/payouts"
    assert dict(switched.query) == {"status": "rejected", "app_id": "demo", "lang": "en"}
    page = await (await api.client.get(str(switched))).text()
    assert "Payouts" in page and 'value="rejected" selected' in page


async def test_a_failing_webhook_can_be_replayed_from_its_list(api: SignedClient, container: Any) -> None:
    """`failing` is a stored `pending` after a failed attempt: its row says failing and has the
    replay button (it had none: the page looked for a stored status `failing`)."""
    payer, payee = await api.open_account(owner="A"), await api.open_account(owner="B")
    await api.fund(payer, "10.00")
    status, paid = await api.pay(
        out_request_no="hook-1", amount="1.00", payer_account=payer, payee_account=payee
    )
    assert status == 201, paid  # its webhook is queued
    async with container.engine().begin() as conn:
        updated = await conn.execute(outbox.update().values(attempts=2, last_error="connection refused"))
    assert updated.rowcount >= 1
    await log_in(api, "demo-operator")
    page = await (await api.client.get("/console/notifications?status=failing")).text()
    replay = re.search(r'action="(/console/notifications/[^"]+/replay)"', page)
    assert replay and "投递失败重试中" in page, page
    answer = await api.client.post(replay.group(1), data={"csrf_token": await csrf_token(api)})
    assert answer.status == 200 and "待处理" in await answer.text()
    page = await (await api.client.get("/console/notifications?status=failing")).text()
    assert replay.group(1) not in page  # queued again: no longer failing
    again = await api.client.post(replay.group(1), data={"csrf_token": await csrf_token(api)})
    assert again.status == 409 and "该通知已重新排队或已投递" in await again.text()  # a stale button


async def test_a_second_proposal_of_the_same_decision_is_refused(api: SignedClient, container: Any) -> None:
    """A large payout's approval proposed from a page left open after it was already proposed
    (by a double submit, or a second finance operator): one proposal waits, the second is
    refused (it would only wait beside the first, to be confirmed twice)."""
    container.settings().ops.maker_checker.payout_approval_over = Decimal("10.00")
    [payout_id] = await apply_payouts(api, 1)
    await log_in(api, "demo-finance")
    status, page = await review(api, "approve", payout_id)
    assert status == 200 and "待第二位财务确认" in page
    status, page = await review(api, "approve", payout_id)
    assert "已有相同的提议在等待复核" in page, page
    status, listed = await api.as_operator("demo-viewer-token-change-me").get("/ops/approvals?status=any")
    assert [a["subject_id"] for a in listed["data"]] == [payout_id], listed


async def test_two_proposals_of_the_same_decision_at_once_store_one(
    api: SignedClient, container: Any
) -> None:
    """Sent at the same moment (PostgreSQL: in two transactions at once), one is stored and
    the other refused 409 APPROVAL_OPEN."""
    container.settings().ops.maker_checker.payout_approval_over = Decimal("10.00")
    [payout_id] = await apply_payouts(api, 1)
    finance = api.as_operator("demo-finance-token-change-me")
    answers = await asyncio.gather(*(finance.approve_payout(payout_id) for _ in range(4)))
    assert sorted(status for status, _ in answers) == [202, 409, 409, 409], answers
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"APPROVAL_OPEN"}
    status, listed = await finance.get("/ops/approvals?status=any")
    assert [a["subject_id"] for a in listed["data"]] == [payout_id], listed


async def test_a_filter_the_list_refuses_is_said_above_the_filters_as_filled_in(api: SignedClient) -> None:
    await log_in(api, "demo-viewer")
    answer = await api.client.get("/console/payments?status=bogus&app_id=demo&created_from=yesterday")
    page = await answer.text()
    assert answer.status == 400 and 'id="message"' in page and "输入有误" in page, page
    assert 'class="filters"' in page and 'name="app_id" value="demo"' in page  # the form as filled in


async def test_a_page_that_fails_answers_a_console_page_with_the_trace_id(
    api: SignedClient, container: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await log_in(api, "demo-viewer")

    async def broken() -> None:
        raise RuntimeError("the ledger check broke")

    monkeypatch.setattr(container.accounts(), "ledger_check", broken)
    answer = await api.client.get("/console", headers={"X-Trace-Id": "trace-r8"})
    page = await answer.text()
    assert answer.status == 500 and answer.content_type == "text/html"
    assert "系统内部错误" in page and "trace-r8" in page and "the ledger check broke" not in page


async def test_a_report_query_it_refuses_is_said_above_the_form_as_filled_in(api: SignedClient) -> None:
    await log_in(api, "demo-finance")
    answer = await api.client.get("/console/report?from=2026-12-05&to=2026-01-01&group_by=status")
    page = await answer.text()
    assert answer.status == 400 and 'id="message"' in page and "from must not be after to" in page
    assert 'name="from" value="2026-12-05"' in page and 'name="group_by" value="status"' in page
