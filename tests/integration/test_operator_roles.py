"""/ops as operators use it: who they are (their API token) and what their roles let them do."""

from __future__ import annotations

from typing import Any

import pytest
from paygate_testkit import DEMO_LOGINS, DEMO_TOKENS, SignedClient

from core.operators.model import Role

FINANCE, OPERATOR, VIEWER, ADMIN = Role.FINANCE, Role.OPERATOR, Role.VIEWER, Role.ADMIN

# (method, path, body, the role that may, what that role gets past the role check)
ACTIONS = [
    (
        "POST",
        "/ops/accounts/{account}/fund",
        {"out_request_no": "f-1", "amount": "1.00", "currency": "CNY"},
        FINANCE,
        201,
    ),
    ("POST", "/ops/payouts/pyt_missing/approve", {}, FINANCE, 404),
    ("POST", "/ops/payouts/pyt_missing/reject", {"reason": "no"}, FINANCE, 404),
    ("POST", "/ops/notifications/evt_missing/replay", None, OPERATOR, 404),
    ("POST", "/ops/bills/bil_missing/actions/revalidate", {}, OPERATOR, 404),
]
READS = ["/ops/me", "/ops/ledger/check", "/ops/notifications", "/ops/payments/stuck", "/ops/payouts"]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path", "body", "allowed", "status"), ACTIONS)
async def test_each_role_may_do_its_actions_and_is_refused_the_others(
    api: SignedClient, role: Role, method: str, path: str, body: Any, allowed: Role, status: int
) -> None:
    account = await api.open_account()
    path = path.format(account=account)
    answer_status, answer = await api.as_operator(DEMO_TOKENS[role]).call(method, path, body)
    if role is allowed:
        assert answer_status == status, answer
    else:
        assert answer_status == 403, answer
        assert answer["error"]["code"] == "ROLE_REQUIRED"
        assert f"needs the role '{allowed.value}'" in answer["error"]["message"]


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_read(api: SignedClient, role: Role) -> None:
    for path in READS:
        status, body = await api.as_operator(DEMO_TOKENS[role]).get(path)
        assert status == 200, (path, body)


async def test_me_names_the_operator_and_what_they_may_do(api: SignedClient) -> None:
    status, me = await api.as_operator(DEMO_TOKENS[OPERATOR]).get("/ops/me")
    assert status == 200
    assert (me["login"], me["roles"]) == ("demo-operator", ["operator"])
    assert me["permissions"] == ["handle_bill_errors", "replay_webhooks", "view"]


async def test_a_viewers_action_is_refused_and_changes_nothing(api: SignedClient) -> None:
    account = await api.open_account()
    viewer = api.as_operator(DEMO_TOKENS[VIEWER])
    status, body = await viewer.post(
        f"/ops/accounts/{account}/fund", {"out_request_no": "f-1", "amount": "5.00", "currency": "CNY"}
    )
    assert (status, body["error"]["code"]) == (403, "ROLE_REQUIRED")
    assert await api.balance(account) == "0.00"
    # the refused request kept nothing: the same request number is free for finance
    status, funded = await api.as_operator(DEMO_TOKENS[FINANCE]).post(
        f"/ops/accounts/{account}/fund", {"out_request_no": "f-1", "amount": "5.00", "currency": "CNY"}
    )
    assert status == 201, funded
    assert await api.balance(account) == "5.00"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic ZGVtbzpkZW1v"])
async def test_no_or_an_unknown_token_is_401(api: SignedClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await api.client.get("/ops/ledger/check", headers=headers)
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (401, "UNAUTHENTICATED")


async def test_a_disabled_operator_is_401(api: SignedClient, container: Any) -> None:
    zhao = await api.as_new_operator(container, "finance-zhao", FINANCE)
    assert (await zhao.get("/ops/me"))[0] == 200
    await container.operators().disable("finance-zhao")
    status, body = await zhao.get("/ops/me")
    assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")


async def test_an_operator_may_hold_several_roles(api: SignedClient, container: Any) -> None:
    both = await api.as_new_operator(container, "li", FINANCE, OPERATOR)
    assert (await both.post("/ops/payouts/pyt_missing/approve", {}))[0] == 404
    assert (await both.post("/ops/bills/bil_missing/actions/revalidate", {}))[0] == 404
    assert (await both.get("/ops/me"))[1]["roles"] == ["finance", "operator"]


async def test_the_demo_operators_are_one_per_role(container: Any, api: SignedClient) -> None:
    operators = {o.login: o for o in await container.operators().all()}
    for role, login in DEMO_LOGINS.items():
        assert operators[login].roles == {role}
