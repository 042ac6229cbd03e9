"""The web console over HTTP (no browser): login and the session cookie, every page behind
login, the role table on every action, the CSRF token, expiry, languages, and the console kept
out of /openapi.json. The browser tests are in tests/e2e/console."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from paygate_testkit import SignedClient, make_settings
from test_operator_resolve import work

from core.operators.model import Role
from gateway.settings import PaygateSettings
from gateway.storage.console_session_tables import console_sessions
from plugins.alipay_payout.sandbox import ALIPAY_PUBLIC_KEY_FILE, APP_PRIVATE_KEY_FILE, SANDBOX_APP_ID


@pytest.fixture
def settings(database_url: str) -> PaygateSettings:
    """Payouts are accepted for review (they are not paid here: no one approves them)."""
    rules = [
        {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
        {"name": "alipay payouts", "pay_method": "alipay", "channel": "alipay_payout"},
    ]
    openapi = {
        "gateway_url": "http://127.0.0.1:9/gateway.do",  # never called: nothing is approved
        "app_id": SANDBOX_APP_ID,
        "app_private_key": (ALIPAY_KEYS / APP_PRIVATE_KEY_FILE).read_text(),
        "alipay_public_key": (ALIPAY_KEYS / ALIPAY_PUBLIC_KEY_FILE).read_text(),
    }
    channels = {"alipay_payout": {"openapi": openapi}}
    return make_settings(database_url, routing={"rules": rules}, channels=channels)


ALIPAY_KEYS = Path(__file__).parents[2] / "cassettes" / "alipay_payout" / "keys"
PAGES = ["/console", "/console/payments", "/console/bills", "/console/payouts", "/console/lease_orders",
         "/console/notifications", "/console/payouts/review", "/console/report", "/console/report.csv",
         "/console/report/items.csv"]  # fmt: skip


async def log_in(
    api: SignedClient, login: str, password: str | None = None, next_page: str = "/console"
) -> Any:
    html = await (await api.client.get("/console/login")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    form = {"login": login, "password": password or login, "next": next_page, "csrf_token": found.group(1)}
    return await api.client.post("/console/login", data=form, allow_redirects=False)


async def csrf_token(api: SignedClient) -> str:
    html = await (await api.client.get("/console")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
async def test_no_page_without_login(api: SignedClient, path: str) -> None:
    response = await api.client.get(path, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/console/login")


async def test_no_action_without_login(api: SignedClient) -> None:
    response = await api.client.post(
        "/console/payouts/review", data={"decision": "approve"}, allow_redirects=False
    )
    assert response.status == 303


async def test_login_sets_a_strict_httponly_cookie_and_every_page_answers(api: SignedClient) -> None:
    response = await log_in(api, "demo-viewer")
    assert response.status == 303 and response.headers["Location"] == "/console"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests; TLS or console.secure_cookie sets it
    for path in PAGES:
        page = await api.client.get(path)
        assert page.status == 200, path
    dashboard = await (await api.client.get("/console")).text()
    assert "待办总览" in dashboard and "demo-viewer" in dashboard


async def test_a_wrong_password_is_refused(api: SignedClient) -> None:
    response = await log_in(api, "demo-viewer", "wrong")
    assert response.status == 401 and "账号或密码错误" in await response.text()
    assert (await api.client.get("/console", allow_redirects=False)).status == 303


async def test_english_on_request_and_kept_in_the_session(api: SignedClient) -> None:
    await log_in(api, "demo-viewer")
    assert "Needs a person now" in await (await api.client.get("/console?lang=en")).text()
    assert "Needs a person now" in await (await api.client.get("/console")).text()
    assert "待办总览" in await (await api.client.get("/console?lang=zh")).text()


async def test_a_viewer_may_not_act_even_with_the_csrf_token(api: SignedClient) -> None:
    await log_in(api, "demo-viewer")
    token = await csrf_token(api)
    for path in ["/console/payouts/review", "/console/bills/bill_x/actions/resend_bank",
                 "/console/notifications/evt_x/replay"]:  # fmt: skip
        response = await api.client.post(
            path, data={"csrf_token": token, "decision": "approve", "reason": "r"}
        )
        assert response.status == 403, path
    assert (await api.client.get("/console/bills/bill_x/actions/resend_bank")).status == 403


async def test_a_post_without_the_session_csrf_token_is_refused(api: SignedClient) -> None:
    await log_in(api, "demo-finance")
    for data in ({"decision": "approve"}, {"decision": "approve", "csrf_token": "forged"}):
        response = await api.client.post("/console/payouts/review", data=data)
        assert response.status == 403
    token = await csrf_token(api)
    ok = await api.client.post("/console/payouts/review", data={"csrf_token": token, "decision": "approve"})
    assert ok.status == 400  # the form was accepted (no 403), and nothing was ticked


async def test_a_rejection_needs_a_reason(api: SignedClient) -> None:
    await log_in(api, "demo-finance")
    token = await csrf_token(api)
    form = {"csrf_token": token, "decision": "reject", "payout_id": "po_x", "reason": " "}
    response = await api.client.post("/console/payouts/review", data=form)
    assert response.status == 400 and "驳回必须填写原因" in await response.text()


async def test_logout_ends_the_session(api: SignedClient) -> None:
    await log_in(api, "demo-viewer")
    token = await csrf_token(api)
    assert (
        await api.client.post("/console/logout", data={"csrf_token": token}, allow_redirects=False)
    ).status == 303
    assert (await api.client.get("/console", allow_redirects=False)).status == 303


async def test_an_expired_session_goes_back_to_the_login(api: SignedClient, container: Any) -> None:
    await log_in(api, "demo-viewer")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with container.engine().begin() as conn:
        await conn.execute(console_sessions.update().values(seen=an_hour_ago))
    assert (await api.client.get("/console", allow_redirects=False)).status == 303


async def test_a_disabled_operator_is_logged_out(api: SignedClient, container: Any) -> None:
    await log_in(api, "demo-operator")
    await container.operators().disable("demo-operator")
    assert (await api.client.get("/console", allow_redirects=False)).status == 303


async def test_the_login_page_goes_nowhere_outside_the_console(api: SignedClient) -> None:
    response = await log_in(api, "demo-viewer", next_page="//evil.example/console")
    assert response.headers["Location"] == "/console"


async def test_a_login_without_the_form_token_is_refused(api: SignedClient) -> None:
    form = {"login": "demo-viewer", "password": "demo-viewer"}
    response = await api.client.post("/console/login", data=form, allow_redirects=False)
    assert response.status == 403
    assert (await api.client.get("/console", allow_redirects=False)).status == 303


async def test_the_console_is_not_in_the_api_document(api: SignedClient) -> None:
    document = await (await api.client.get("/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/console")]


async def test_the_csv_export_starts_with_a_bom(api: SignedClient) -> None:
    await log_in(api, "demo-finance")
    for path in ("/console/report.csv", "/console/report/items.csv"):
        response = await api.client.get(path)
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert (await response.read()).startswith(b"\xef\xbb\xbf")


async def test_the_report_runs_to_the_last_day_a_date_holds(api: SignedClient) -> None:
    """`to=9999-12-31` (the day after it is no date: a 500 once) lists every payout applied."""
    await apply_payouts(api, 2)
    await log_in(api, "demo-finance")
    for path in ("/console/report", "/console/report.csv", "/console/report/items.csv"):
        response = await api.client.get(f"{path}?from=2000-01-01&to=9999-12-31")
        assert response.status == 200, path
    items = (await (await api.client.get("/console/report/items.csv?to=9999-12-31")).text()).splitlines()
    assert len(items) == 1 + 2  # the header and both payouts


def payout_item(n: int) -> dict[str, Any]:
    ext = {"type": 2, "pay_method": 1, "reason": "航班取消补偿", "payee_name": "张三"}
    return {"serial_no": f"CON-{n}", "order_serial_no": "ORD-1", "payee_account": "zhangsan@example.com",
            "amount": "12.30", "ext": ext}  # fmt: skip


async def apply_payouts(api: SignedClient, count: int) -> list[str]:
    status, batch = await api.post("/v1/payouts", {"items": [payout_item(n) for n in range(count)]})
    assert status == 200 and batch["accepted"] == count, batch
    return [i["payout"]["id"] for i in batch["items"]]


async def audited(api: SignedClient, query: str) -> list[tuple[str, str | None, str, str, str | None]]:
    """The audit log's records (operator, subject, action, outcome, note), oldest first."""
    status, listed = await api.as_operator("demo-viewer-token-change-me").get(f"/ops/audit?{query}")
    assert status == 200, listed
    return [
        (e["operator"], e["subject_id"], e["action"], e["outcome"], e["note"])
        for e in reversed(listed["data"])
    ]


async def test_lists_page_with_the_cursor(api: SignedClient) -> None:
    ids = [f'href="/console/payouts/{i}"' for i in await apply_payouts(api, 3)]  # the rows' links
    await log_in(api, "demo-viewer")
    first = await (await api.client.get("/console/payouts?limit=2&status=pending_review&app_id=")).text()
    older = re.search(r'href="([^"]+)" id="older"', first)
    assert older and sum(i in first for i in ids) == 2
    second = await (await api.client.get(older.group(1).replace("&amp;", "&"))).text()
    assert sum(i in second for i in ids) == 1 and 'id="older"' not in second and 'id="newer"' in second
    newer = re.search(r'href="([^"]+)" id="newer"', second)
    assert newer
    back = await (await api.client.get(newer.group(1).replace("&amp;", "&"))).text()
    assert sum(i in back for i in ids) == 2 and 'id="older"' in back and 'id="newer"' not in back
    assert "zhangsan@example.com" not in first + second  # the payee account masked


async def test_finance_rejects_payouts_in_bulk_with_a_reason(api: SignedClient) -> None:
    ids = await apply_payouts(api, 2)
    await log_in(api, "demo-finance")
    queue = await (await api.client.get("/console/payouts/review")).text()
    assert all(f'value="{i}" class="pick"' in queue for i in ids)
    token = await csrf_token(api)
    form = [("csrf_token", token), ("decision", "reject"), ("reason", "重复申请")] + [
        ("payout_id", i) for i in ids
    ]
    answer = await api.client.post("/console/payouts/review", data=form)
    assert answer.status == 200 and (await answer.text()).count("已驳回") == 2
    for payout_id in ids:
        status, payout = await api.as_operator("demo-viewer-token-change-me").get(f"/ops/payouts/{payout_id}")
        assert payout["status"] == "rejected" and payout["review"]["reviewer"] == "demo-finance", payout
    # in the audit log as /ops would record them: one record per payout, with the reason
    assert sorted(await audited(api, "action=payouts/reject")) == sorted(
        ("demo-finance", i, "payouts/reject", "ok", "reason: 重复申请") for i in ids
    )


async def test_a_large_approval_in_the_console_waits_for_a_second_finance_operator(
    api: SignedClient, container: Any
) -> None:
    """The console approves by the same way as /ops: over `payout_approval_over` it only proposes,
    so no single operator pays a large payout from the console either."""
    container.settings().ops.maker_checker.payout_approval_over = Decimal("10.00")
    [payout_id] = await apply_payouts(api, 1)  # 12.30: over the amount
    await log_in(api, "demo-finance")
    form = [("csrf_token", await csrf_token(api)), ("decision", "approve"), ("payout_id", payout_id)]
    answer = await api.client.post("/console/payouts/review", data=form)
    assert answer.status == 200 and "待第二位财务确认" in await answer.text()
    viewer = api.as_operator("demo-viewer-token-change-me")
    status, payout = await viewer.get(f"/ops/payouts/{payout_id}")
    assert payout["status"] == "pending_review", payout
    status, pending = await viewer.get("/ops/approvals")
    assert [a["subject_id"] for a in pending["data"]] == [payout_id], pending
    assert await audited(api, f"subject_id={payout_id}") == [
        ("demo-finance", payout_id, "payouts/approve", "proposed", None)
    ]


async def test_a_second_finance_operator_confirms_a_proposal_in_the_console(
    api: SignedClient, container: Any
) -> None:
    """The approvals page: the proposer may not confirm their own proposal, a viewer sees no
    button and is refused; another finance operator confirms it, once."""
    container.settings().ops.maker_checker.payout_approval_over = Decimal("10.00")
    [payout_id] = await apply_payouts(api, 1)
    await log_in(api, "demo-finance")
    form = [("csrf_token", await csrf_token(api)), ("decision", "approve"), ("payout_id", payout_id)]
    assert (await api.client.post("/console/payouts/review", data=form)).status == 200
    page = await (await api.client.get("/console/approvals")).text()
    found = re.search(r'action="/console/approvals/([^/"]+)/confirm"', page)
    assert found and payout_id in page
    confirm = f"/console/approvals/{found.group(1)}/confirm"

    async def post_confirm() -> int:
        return (await api.client.post(confirm, data={"csrf_token": await csrf_token(api)})).status

    own = await api.client.post(confirm, data={"csrf_token": await csrf_token(api)})
    assert own.status == 403, await own.text()
    await api.client.post("/console/logout", data={"csrf_token": await csrf_token(api)})
    await log_in(api, "demo-viewer")
    assert "/confirm" not in await (await api.client.get("/console/approvals")).text()
    assert await post_confirm() == 403, "a viewer's forged confirmation"
    await api.client.post("/console/logout", data={"csrf_token": await csrf_token(api)})
    await api.as_new_operator(container, "fin-2", Role.FINANCE)
    await log_in(api, "fin-2", "fin-2-password")
    assert await post_confirm() == 200
    assert await post_confirm() == 409, "confirmed once"
    confirmations = await audited(api, "action=approvals/confirm")
    assert [(who, outcome) for who, _, _, outcome, _ in confirmations] == [
        ("demo-finance", "refused:SAME_OPERATOR"),
        ("demo-viewer", "refused:ROLE_REQUIRED"),
        ("fin-2", "ok"),
        ("fin-2", "refused:APPROVAL_DECIDED"),
    ], confirmations
    assert await work(container) == 1  # the approvals worker runs the approval
    viewer = api.as_operator("demo-viewer-token-change-me")
    status, payout = await viewer.get(f"/ops/payouts/{payout_id}")
    assert payout["status"] != "pending_review" and payout["review"]["reviewer"] == "demo-finance", payout


async def test_resolving_from_the_console_goes_through_the_same_checks(api: SignedClient) -> None:
    """Only finance may propose; a payment that is not escalated is refused, nothing proposed."""
    payer, payee = await api.open_account(owner="A"), await api.open_account(owner="B")
    await api.fund(payer, "10.00")
    status, paid = await api.pay(
        out_request_no="con-1", amount="1.00", payer_account=payer, payee_account=payee
    )
    assert status == 201 and paid["status"] == "succeeded", paid
    form = {"decision": "failed", "evidence": "bank statement line 7"}
    await log_in(api, "demo-viewer")
    resolve = f"/console/payments/{paid['id']}/resolve"
    refused = await api.client.post(resolve, data={**form, "csrf_token": await csrf_token(api)})
    assert refused.status == 403
    await api.client.post("/console/logout", data={"csrf_token": await csrf_token(api)})
    await log_in(api, "demo-finance")
    detail = await (await api.client.get(f"/console/payments/{paid['id']}")).text()
    assert 'id="resolve"' not in detail  # a final payment has no resolve form
    answer = await api.client.post(resolve, data={**form, "csrf_token": await csrf_token(api)})
    assert answer.status == 409, await answer.text()  # NOT_ESCALATED: nothing proposed
    assert await audited(api, f"subject_id={paid['id']}") == [
        ("demo-finance", paid["id"], "payments/resolve", "refused:NOT_ESCALATED",
         "decision: failed; evidence: bank statement line 7")
    ]  # fmt: skip
    status, pending = await api.as_operator("demo-viewer-token-change-me").get("/ops/approvals")
    assert pending["data"] == []


async def test_list_filters_and_columns_are_named_in_the_pages_language(api: SignedClient) -> None:
    await log_in(api, "demo-viewer")
    payments = await (await api.client.get("/console/payments")).text()
    assert "已升级人工处理" in payments and '<option value="true" >是</option>' in payments
    assert ">escalated<" not in payments.replace(" ", "")
    bills = await (await api.client.get("/console/bills?lang=en")).text()
    assert "<th>Bill code</th>" in bills and "Needs action" in bills


async def test_the_exports_quote_what_a_spreadsheet_would_run(api: SignedClient) -> None:
    """A payee's name is the caller's (and its user's) text: one starting like a formula was
    written as it is into the CSV finance opens in a spreadsheet (OWASP "CSV injection")."""
    names = ['=HYPERLINK("http://evil.example/","open")', "+1+1", "-2+3", "@SUM(A1:A9)"]
    items = [
        {**payout_item(n), "ext": {**payout_item(n)["ext"], "payee_name": name}}
        for n, name in enumerate(names)
    ]
    status, batch = await api.post("/v1/payouts", {"items": items})
    assert status == 200 and batch["accepted"] == len(names), batch
    await log_in(api, "demo-finance")
    text = await (await api.client.get("/console/report/items.csv?to=9999-12-31")).text()
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert sorted(r["payee_name"] for r in rows) == sorted("'" + n for n in names)
    assert all(not r[c].startswith(("=", "+", "-", "@")) for r in rows for c in r)
    assert all(r["amount"] == "12.30" for r in rows), "a plain value is written as it is"
