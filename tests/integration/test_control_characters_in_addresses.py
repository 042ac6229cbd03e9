"""A path, query or console form holding a control character (NUL first: PostgreSQL cannot even
compare a text holding it) is refused with 400 INVALID_CHARACTERS naming where, on every route
of the API and the console, on SQLite and PostgreSQL alike: never a 500, nothing written."""

from __future__ import annotations

import re

import pytest
from paygate_testkit import SignedClient
from test_console_pages import apply_payouts, csrf_token, log_in
from test_console_pages import settings as settings  # payouts accepted for review

from gateway.http.routes import ROUTES

BAD = "a%00b"  # NUL, percent-encoded as a client sends it


def _addresses() -> list[tuple[str, str, str]]:
    """Every route with a path parameter (its value bad) and every query parameter (bad)."""
    found = []
    for r in ROUTES:
        if "{" in r.path:
            found.append((r.method, re.sub(r"\{[^}]+\}", BAD, r.path), "path"))
        plain = re.sub(r"\{[^}]+\}", "x", r.path)
        found += [(r.method, f"{plain}?{q.name}={BAD}", q.name) for q in r.query]
    return found


@pytest.mark.parametrize(("method", "address", "field"), _addresses(), ids=lambda v: str(v))
async def test_a_bad_character_in_an_address_is_a_400_naming_it(
    api: SignedClient, method: str, address: str, field: str
) -> None:
    status, body = await api.call(method, address, {} if method == "POST" else None)
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "INVALID_CHARACTERS", field), body
    assert "U+0000" in body["error"]["message"]


async def test_other_refused_characters_and_a_bad_query_name_too(api: SignedClient) -> None:
    for query, field in (("status=%E2%80%8Bsucceeded", "status"), ("a%01=1", "query")):
        status, body = await api.get(f"/v1/payments?{query}")
        assert (status, body["error"]["code"], body["error"]["field"]) == (400, "INVALID_CHARACTERS", field)


async def test_the_console_refuses_them_with_a_page_and_does_nothing(api: SignedClient) -> None:
    [payout_id] = await apply_payouts(api, 1)
    refused = await log_in(api, "demo-finance\x00")
    assert refused.status == 401 and "账号或密码错误" in await refused.text()
    await log_in(api, "demo-finance")
    for address in (f"/console/payouts?status={BAD}", f"/console/payouts/{BAD}"):
        page = await api.client.get(address)
        assert page.status == 400 and page.content_type == "text/html", address
        assert "输入有误" in await page.text()
    form = {"csrf_token": await csrf_token(api), "decision": "reject", "payout_id": payout_id}
    page = await api.client.post("/console/payouts/review", data={**form, "reason": "重复\x00申请"})
    assert page.status == 400 and "输入有误" in await page.text() and "U+0000" in await page.text()
    status, payout = await api.get(f"/ops/payouts/{payout_id}")
    assert (status, payout["status"]) == (200, "pending_review"), "nothing was decided"


async def test_a_path_parameter_longer_than_any_id_is_a_400_naming_it(api: SignedClient) -> None:
    """An id of 65 characters names nothing (a 500 once on PostgreSQL: the audit log refused to
    record it as the subject of an operator's action)."""
    long_id = "x" * 65
    for method, address in (("POST", f"/ops/approvals/{long_id}/reject"), ("GET", f"/v1/payments/{long_id}")):
        status, body = await api.call(method, address, {"reason": "no"} if method == "POST" else None)
        assert (status, body["error"]["code"], body["error"]["field"]) == (400, "INVALID_ARGUMENT", "id"), (
            body
        )
    status, body = await api.get(f"/v1/payments/{'x' * 64}")
    assert (status, body["error"]["code"]) == (404, "PAYMENT_NOT_FOUND")
