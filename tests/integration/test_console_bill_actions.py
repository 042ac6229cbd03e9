"""A bill action through the console's pages (no browser): the confirm page's form carries the
bill as it was shown (`seen`), so a form another operator's action made stale is refused, not
run again; the browser tests are in tests/e2e/console."""

from __future__ import annotations

import re

from test_bills_api import Gateway, gw, sandbox, start_gateway  # noqa: F401  (their gateway)
from test_console_pages import csrf_token, log_in


async def test_a_stale_bill_action_form_is_refused_and_nothing_is_done(gw: Gateway) -> None:  # noqa: F811
    applicant = await gw.applicant()
    status, body = await gw.loan(applicant, amount="50000.01")  # over the single loan limit
    assert status == 422, body
    bill_id = body["error"]["bill_id"]
    await log_in(gw.api, "demo-operator")
    action = f"/console/bills/{bill_id}/actions/revalidate"
    page = await (await gw.api.client.get(action)).text()
    seen = re.search(r'name="seen" value="([^"]+)"', page)
    assert seen, page
    form = {"csrf_token": await csrf_token(gw.api), "reason": "again"}
    stale = await gw.api.client.post(action, data={**form, "seen": "2026-01-01T00:00:00+00:00"})
    assert stale.status == 409 and "打开此页面后对象已被更改" in await stale.text()
    status, audit = await gw.api.get(f"/ops/audit?subject_id={bill_id}")
    assert [(e["action"], e["outcome"]) for e in audit["data"]] == [
        ("bills/actions/revalidate", "refused:STALE_FORM")
    ], audit
    assert (await gw.bill(bill_id))["attempt"] == 0
    assert f'href="/console/bills/{bill_id}" id="back"' in await stale.text()  # back to the bill
    fresh = await gw.api.client.post(action, data={**form, "seen": seen.group(1)}, allow_redirects=False)
    assert fresh.status == 303, await fresh.text()
    shown = await (await gw.api.client.get(fresh.headers["Location"])).text()
    assert '<p class="flash ok" id="flash">已执行: 重新校验</p>' in shown  # says what was done
    status, audit = await gw.api.get(f"/ops/audit?subject_id={bill_id}")
    assert audit["data"][0]["outcome"] == "ok", audit
