"""Caller authentication, data isolation between apps, and the error contract (4xx, never 500)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from paygate_testkit import APP_ID


async def test_unsigned_request_is_rejected(api: Any) -> None:
    response = await api.client.get("/v1/payments?out_request_no=x")
    body = await response.json()
    assert response.status == 401 and body["error"]["code"] == "UNAUTHENTICATED"
    assert body["error"]["field"] == "X-App-Id"


async def test_wrong_signature_is_rejected(api: Any) -> None:
    body = b'{"owner":"a","kind":"C","currency":"CNY"}'
    headers = api.headers("POST", "/v1/accounts", body)
    headers["X-Signature"] = "0" * 64
    response = await api.client.post("/v1/accounts", data=body, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["field"] == "X-Signature"


async def test_body_changed_after_signing_is_rejected(api: Any) -> None:
    signed = b'{"owner":"a","kind":"C","currency":"CNY"}'
    headers = api.headers("POST", "/v1/accounts", signed)
    response = await api.client.post("/v1/accounts", data=signed.replace(b"a", b"b"), headers=headers)
    assert response.status == 401


async def test_query_string_is_part_of_the_signature(api: Any) -> None:
    headers = api.headers("GET", "/v1/payments?out_request_no=a", b"")
    response = await api.client.get("/v1/payments?out_request_no=b", headers=headers)
    assert response.status == 401


# A stale timestamp only gets staler while the request travels; a future one gets nearer, so it
# is a minute past the window (a loaded machine can take seconds to serve the request).
@pytest.mark.parametrize("skew", [-301, 361])
async def test_stale_or_future_timestamp_is_rejected(api: Any, skew: int) -> None:
    status, body = await api.get("/v1/payments?out_request_no=x", timestamp=int(time.time()) + skew)
    assert status == 401 and body["error"]["field"] == "X-Timestamp"


async def test_replayed_nonce_is_rejected(api: Any) -> None:
    status, _ = await api.get("/v1/payments?out_request_no=x", nonce="once-only")
    assert status == 404
    status, body = await api.get("/v1/payments?out_request_no=x", nonce="once-only")
    assert status == 401 and body["error"]["field"] == "X-Nonce"


async def test_an_unknown_app_id_gets_the_answer_of_a_wrong_signature(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No app enumeration: a caller cannot tell an app id that does not exist from a wrong
    signature; only the operators' log tells them apart."""
    stranger = api.as_app("stranger", "stranger-secret-1234")
    impostor = api.as_app(APP_ID, "not-the-shop-secret-0123")
    with caplog.at_level(logging.WARNING, logger="paygate.auth"):
        unknown = await stranger.get("/v1/payments?out_request_no=x")
        wrong = await impostor.get("/v1/payments?out_request_no=x")
    assert unknown[0] == wrong[0] == 401
    assert unknown[1] == wrong[1]
    refusals = [r for r in caplog.records if r.name == "paygate.auth"]
    assert [(r.auth_failure, r.claimed_app_id) for r in refusals] == [
        ("unknown_app_id", "stranger"),
        ("bad_signature", APP_ID),
    ]


async def test_a_stale_timestamp_gets_the_same_answer_whether_the_app_id_exists(api: Any) -> None:
    stale = int(time.time()) - 3600
    stranger = api.as_app("stranger", "stranger-secret-1234")
    unknown = await stranger.get("/v1/payments?out_request_no=x", timestamp=stale)
    known = await api.get("/v1/payments?out_request_no=x", timestamp=stale)
    assert unknown == known
    assert known[0] == 401 and known[1]["error"]["field"] == "X-Timestamp"


async def test_an_app_cannot_see_another_apps_account(api: Any, other_app: Any) -> None:
    mine = await api.open_account()
    status, body = await other_app.get(f"/v1/accounts/{mine}")
    assert status == 404 and body["error"]["code"] == "ACCOUNT_NOT_FOUND"
    status, _ = await other_app.get(f"/v1/accounts/{mine}/entries")
    assert status == 404


async def test_an_app_cannot_see_or_spend_from_another_apps_data(api: Any, other_app: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    await api.fund(alice, "10.00")
    _, payment = await api.pay(out_request_no="mine", amount="1.00", payer_account=alice, payee_account=bob)
    assert (await other_app.get(f"/v1/payments/{payment['id']}"))[0] == 404
    assert (await other_app.get("/v1/payments?out_request_no=mine"))[0] == 404
    assert (await other_app.get(f"/v1/payments/{payment['id']}/flow"))[0] == 404
    thief = await other_app.open_account()
    status, body = await other_app.pay(amount="1.00", payer_account=alice, payee_account=thief)
    assert status == 404 and body["error"]["code"] == "ACCOUNT_NOT_FOUND"
    assert await api.balance(alice) == "9.00"


async def test_the_same_request_number_in_two_apps_is_two_payments(api: Any, other_app: Any) -> None:
    a1, a2 = await api.open_account(), await api.open_account()
    b1, b2 = await other_app.open_account(), await other_app.open_account()
    await api.fund(a1, "5.00")
    await other_app.fund(b1, "5.00")
    s1, p1 = await api.pay(out_request_no="shared", amount="1.00", payer_account=a1, payee_account=a2)
    s2, p2 = await other_app.pay(out_request_no="shared", amount="1.00", payer_account=b1, payee_account=b2)
    assert (s1, s2) == (201, 201) and p1["id"] != p2["id"]


async def test_ops_routes_need_a_token(api: Any) -> None:
    response = await api.client.get("/ops/ledger/check")
    assert response.status == 401
    response = await api.client.get("/ops/ledger/check", headers={"Authorization": "Bearer wrong"})
    assert response.status == 401


# -- the error contract --------------------------------------------------------------------------
def _error(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    return dict(body["error"])


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b"{not json", "INVALID_JSON", None),
        (b"[]", "INVALID_ARGUMENT", None),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":12.5,"currency":"CNY"}',
            "INVALID_AMOUNT",
            "amount",
        ),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":"-1.00","currency":"CNY"}',
            "INVALID_AMOUNT",
            "amount",
        ),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":"1.001","currency":"CNY"}',
            "INVALID_AMOUNT",
            "amount",
        ),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":"0","currency":"CNY"}',
            "INVALID_AMOUNT",
            "amount",
        ),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":"1e3","currency":"CNY"}',
            "INVALID_AMOUNT",
            "amount",
        ),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":"1.00","currency":"XXX"}',
            "UNSUPPORTED_CURRENCY",
            "currency",
        ),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":"1.00","currency":"CNY","x":1}',
            "INVALID_ARGUMENT",
            "x",
        ),
        (
            b'{"pay_method":"transfer","amount":"1.00","currency":"CNY"}',
            "INVALID_ARGUMENT",
            "out_request_no",
        ),
        (
            b'{"out_request_no":"a","pay_method":"transfer","amount":"1.00","currency":"CNY",'
            b'"fee":{"amount":"0.001","account":"w"}}',
            "INVALID_AMOUNT",
            "fee.amount",
        ),
    ],
)
async def test_malformed_payment_bodies_get_400_and_write_nothing(
    api: Any, raw: bytes, code: str, field: str | None
) -> None:
    status, body = await api.post("/v1/payments", raw=raw)
    assert status == 400, body
    error = _error(body)
    assert error["code"] == code and error["field"] == field, error
    assert (await api.get("/v1/payments?out_request_no=a"))[0] == 404


async def test_unknown_route_and_method_use_the_error_body(api: Any) -> None:
    response = await api.client.get("/nowhere")
    assert response.status == 404 and _error(await response.json())["code"] == "NOT_FOUND"
    response = await api.client.delete("/healthz")
    assert response.status == 405 and _error(await response.json())["code"] == "METHOD_NOT_ALLOWED"


async def test_bad_pagination_is_a_400(api: Any) -> None:
    account = await api.open_account()
    status, body = await api.get(f"/v1/accounts/{account}/entries?limit=0")
    assert status == 400 and _error(body)["field"] == "limit"


async def test_no_route_is_a_422_with_its_code(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    status, body = await api.pay(
        pay_method="carrier-pigeon", amount="1.00", payer_account=alice, payee_account=bob
    )
    assert status == 422 and _error(body)["code"] == "NO_ROUTE"


async def test_amount_above_the_risk_limit_is_refused(api: Any) -> None:
    alice, bob = await api.open_account(), await api.open_account()
    status, body = await api.pay(amount="1000000.01", payer_account=alice, payee_account=bob)
    assert status == 422 and _error(body)["code"] == "AMOUNT_LIMIT_EXCEEDED"


async def test_responses_carry_a_trace_id(api: Any) -> None:
    response = await api.client.get("/healthz", headers={"X-Trace-Id": "trace-123"})
    assert response.headers["X-Trace-Id"] == "trace-123"
    response = await api.client.get("/healthz")
    assert len(response.headers["X-Trace-Id"]) == 32


async def test_error_bodies_never_leak_internals(api: Any) -> None:
    status, body = await api.post(
        "/v1/accounts", raw=json.dumps({"owner": "a", "kind": "Z", "currency": "CNY"}).encode()
    )
    assert status == 400 and "Traceback" not in json.dumps(body)
