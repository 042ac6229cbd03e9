"""Strict input on every write endpoint: an amount with anything around it, a key sent twice, a
control, zero-width or bidi-control character in a string are each refused with 400 and one
stable code naming the field, and nothing is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.storage.tables import metadata

PAYOUT_ITEM = {
    "serial_no": "P-1",
    "order_serial_no": "O-1",
    "payee_account": "zhangsan@example.com",
    "amount": "66.60",
    "ext": {"type": 6, "pay_method": 1, "reason": "flight delay", "payee_name": "张三"},
}
LEASE_ORDER = {
    "out_order_no": "RENT-1",
    "buyer_id": "2088102146225135",
    "title": "iPhone 16 Pro",
    "total_amount": "200.00",
    "period_count": 2,
    "periods": [
        {"due_date": "2026-01-01", "amount": "100.00"},
        {"due_date": "2026-02-01", "amount": "100.00"},
    ],
}
BILL = {"bill_code": "JK-1", "pay_mode": "transfer", "applicant_account": "acc_1", "currency": "CNY"}
LEASE = "/v1/lease/orders/lse_0195f2a3b4c5d6e7f8091a2b3c4"


@dataclass(frozen=True)
class Endpoint:
    path: str
    body: dict[str, Any]
    text: str | None = None  # a free-text field (top level)
    amount: str | None = None  # an amount field (top level)
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.path


ENDPOINTS = [
    Endpoint(
        "/v1/payments",
        {"out_request_no": "S-1", "pay_method": "transfer", "amount": "1.00", "currency": "CNY", "memo": "m"},
        "memo",
        "amount",
    ),
    Endpoint(
        "/v1/routes/explain", {"pay_method": "transfer", "amount": "1.00", "currency": "CNY"}, None, "amount"
    ),
    Endpoint("/v1/accounts", {"owner": "alice", "kind": "C", "currency": "CNY"}, "owner"),
    Endpoint(
        "/ops/accounts/acc_1/fund",
        {"out_request_no": "F-1", "amount": "1.00", "currency": "CNY"},
        None,
        "amount",
    ),
    Endpoint("/v1/bills/loans", {**BILL, "amount": "1.00", "memo": "m"}, "memo", "amount"),
    Endpoint(
        "/v1/bills/reimbursements",
        {
            **BILL,
            "bill_code": "BX-1",
            "reimbursement_amount": "1.00",
            "write_off_total": "0",
            "payee_name": "n",
        },
        "payee_name",
        "reimbursement_amount",
    ),
    Endpoint("/ops/bills/bil_1/actions/revalidate", {"reason": "r"}, "reason"),
    Endpoint("/v1/payouts", {"items": [PAYOUT_ITEM], "trace_id": "t-1"}, "trace_id"),
    Endpoint("/ops/payouts/pay_1/approve", {"reviewer": "li", "note": "n"}, "note"),
    Endpoint("/ops/payouts/pay_1/reject", {"reviewer": "li", "reason": "r"}, "reason"),
    Endpoint("/v1/lease/orders", LEASE_ORDER, "title", "total_amount"),
    Endpoint(LEASE + "/contract/sign", {"template_id": "TPL"}, "template_id"),
    Endpoint(LEASE + "/withholding/sign", {"return_url": "https://shop/back"}, "return_url"),
    Endpoint(LEASE + "/withholding/unsign", {"reason": "r"}, "reason"),
    Endpoint(LEASE + "/withholding/cancel-plan", {"reason": "other", "note": "n"}, "note"),
    Endpoint(
        LEASE + "/withholding/unsign-confirmation",
        {"operation": "REFUSE", "service_user": "u", "user_debt": "0.00", "reason": "r"},
        "reason",
        "user_debt",
    ),
    Endpoint(LEASE + "/close", {"reason": "r"}, "reason"),
]
WITH_AMOUNT = [e for e in ENDPOINTS if e.amount]
WITH_TEXT = [e for e in ENDPOINTS if e.text]

REFUSED_CHARACTERS = [
    "\x00",
    "\n",
    "\t",
    "\x7f",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\u2066",
    "\u200f",
]


async def _rows(container: Any) -> dict[str, int]:
    """Rows of every table but the nonces (a signed request stores its nonce, refused or not) and
    the audit log (an operator's refused action is audited)."""
    async with container.engine().connect() as conn:
        return {
            t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
            for t in metadata.sorted_tables
            if t.name not in ("nonces", "audit_log")
        }


async def _refused(api: Any, container: Any, path: str, raw: bytes, code: str, field: str | None) -> str:
    before = await _rows(container)
    status, body = await api.post(path, raw=raw)
    assert status == 400, body
    assert set(body) == {"error"}, body
    assert (body["error"]["code"], body["error"]["field"]) == (code, field), body
    assert await _rows(container) == before
    return str(body["error"]["message"])


@pytest.mark.parametrize("endpoint", WITH_AMOUNT, ids=str)
@pytest.mark.parametrize(
    "amount", ["1.00\n", "1.00\r\n", " 1.00", "1.00 ", "+1.00", "1,00", "01.00", "-5.00"]
)
async def test_an_amount_is_the_whole_string_or_invalid(
    api: Any, container: Any, endpoint: Endpoint, amount: str
) -> None:
    assert endpoint.amount is not None
    raw = json.dumps({**endpoint.body, endpoint.amount: amount}).encode()
    message = await _refused(api, container, endpoint.path, raw, "INVALID_AMOUNT", endpoint.amount)
    assert "decimal string" in message


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_a_key_sent_twice_is_refused(api: Any, container: Any, endpoint: Endpoint) -> None:
    key = endpoint.amount or next(iter(endpoint.body))
    first = "-5.00" if endpoint.amount else endpoint.body[key]
    raw = b"{" + json.dumps({key: first})[1:-1].encode() + b"," + json.dumps(endpoint.body)[1:].encode()
    message = await _refused(api, container, endpoint.path, raw, "DUPLICATE_JSON_KEY", key)
    assert "more than once" in message


async def test_a_nested_key_sent_twice_is_refused(api: Any, container: Any) -> None:
    item = json.dumps(PAYOUT_ITEM)[1:].encode()
    raw = b'{"items": [{"amount": "1.00", ' + item + b"]}"
    await _refused(api, container, "/v1/payouts", raw, "DUPLICATE_JSON_KEY", "amount")


@pytest.mark.parametrize("endpoint", WITH_TEXT, ids=str)
@pytest.mark.parametrize("character", REFUSED_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
async def test_control_zero_width_and_bidi_characters_are_refused(
    api: Any, container: Any, endpoint: Endpoint, character: str
) -> None:
    assert endpoint.text is not None
    raw = json.dumps({**endpoint.body, endpoint.text: f"ab{character}c"}).encode()
    message = await _refused(api, container, endpoint.path, raw, "INVALID_CHARACTERS", endpoint.text)
    assert f"U+{ord(character):04X}" in message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ext": {**PAYOUT_ITEM["ext"], "payee_name": "张\u202e三"}}, "items[0].ext.payee_name"),
        ({"order_serial_no": "O\x00-1"}, "items[0].order_serial_no"),
        ({"amount": "66.60\n"}, "items[0].amount"),
    ],
)
async def test_payout_items_are_checked_for_characters_too(
    api: Any, container: Any, changes: dict[str, Any], field: str
) -> None:
    raw = json.dumps({"items": [{**PAYOUT_ITEM, **changes}]}).encode()
    await _refused(api, container, "/v1/payouts", raw, "INVALID_CHARACTERS", field)


@pytest.mark.parametrize("amount", ["+66.60", "66.600", "6e1"])
async def test_a_payout_item_with_a_bad_amount_is_answered_as_an_invalid_item(api: Any, amount: str) -> None:
    """Items are checked one by one: a bad one is answered in the batch, not with a 400."""
    status, body = await api.post("/v1/payouts", {"items": [{**PAYOUT_ITEM, "amount": amount}]})
    assert status == 200, body
    (item,) = body["items"]
    assert item["code"] == "INVALID_AMOUNT", item


async def test_plain_text_stays_accepted(api: Any) -> None:
    """Letters of any script, spaces and punctuation are what names are made of."""
    status, body = await api.post(
        "/v1/accounts", {"owner": "Zoë O'Brien-张三 (shop #1)", "kind": "C", "currency": "CNY"}
    )
    assert status == 201, body
    assert body["owner"] == "Zoë O'Brien-张三 (shop #1)"


@pytest.mark.parametrize("raw", [b'{"owner": NaN}', b'{"owner": Infinity}', b"\xff\xfe{}"])
async def test_what_is_not_strict_json_is_invalid_json(api: Any, container: Any, raw: bytes) -> None:
    await _refused(api, container, "/v1/accounts", raw, "INVALID_JSON", None)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_a_body_nested_without_end_is_a_400_on_every_route(
    api: Any, container: Any, endpoint: Endpoint
) -> None:
    """Nested deeper than Python's JSON parser goes, a body was a 500 (RecursionError); nested
    less deeply, the field check walked it recursively and could fail the same way."""
    deep = "[" * 5000 + "]" * 5000
    await _refused(api, container, endpoint.path, deep.encode(), "INVALID_JSON", None)
    for depth in (200, 900):  # the parser takes these: the model or the field check refuses them
        key = endpoint.text or endpoint.amount
        assert key is not None
        nested = {**endpoint.body, key: json.loads("[" * depth + "]" * depth)}
        status, body = await api.post(endpoint.path, raw=json.dumps(nested).encode())
        assert status == 400, (depth, body)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_a_number_of_thousands_of_digits_is_a_400_on_every_route(
    api: Any, container: Any, endpoint: Endpoint
) -> None:
    """Past 4,300 digits Python refuses to convert a JSON integer: that was a 500. Shorter ones
    reach the model, which names the field."""
    key = endpoint.text or endpoint.amount
    for digits in ("1" * 5000, "-" + "9" * 4301):
        raw = json.dumps({**endpoint.body, key: 0}).replace('": 0', '": ' + digits, 1).encode()
        message = await _refused(api, container, endpoint.path, raw, "INVALID_JSON", None)
        assert "digits" in message


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_a_number_of_4300_digits_reaches_the_model_and_is_named(api: Any, endpoint: Endpoint) -> None:
    key = endpoint.text or endpoint.amount
    raw = json.dumps({**endpoint.body, key: 0}).replace('": 0', '": ' + "7" * 4300, 1).encode()
    status, body = await api.post(endpoint.path, raw=raw)
    assert status == 400 and body["error"]["field"] == key, body


async def test_an_unknown_account_is_404_account_not_found_on_every_route(api: Any) -> None:
    alice = await api.open_account()
    await api.fund(alice, "10.00")
    ghost = "acc_0000000000000000000000000000"
    transfer = {"pay_method": "transfer", "amount": "1.00", "currency": "CNY"}
    answers = [
        await api.get(f"/v1/accounts/{ghost}"),
        await api.get(f"/v1/accounts/{ghost}/entries"),
        await api.post(
            f"/ops/accounts/{ghost}/fund", {"out_request_no": "F-1", "amount": "1.00", "currency": "CNY"}
        ),
        await api.post(
            "/v1/payments",
            {**transfer, "out_request_no": "G-1", "payer_account": ghost, "payee_account": alice},
        ),
        await api.post(
            "/v1/payments",
            {**transfer, "out_request_no": "G-2", "payer_account": alice, "payee_account": ghost},
        ),
        await api.post(
            "/v1/payments",
            {
                **transfer,
                "out_request_no": "G-3",
                "payer_account": alice,
                "payee_account": ghost,
                "settlement": "realtime",
            },
        ),
    ]
    assert [(status, body["error"]["code"]) for status, body in answers] == [(404, "ACCOUNT_NOT_FOUND")] * 6


def test_every_handler_parses_its_body_with_the_one_parser() -> None:
    """No handler reads JSON on its own (pydantic's parser lets the last duplicate key win)."""
    from pathlib import Path

    import gateway.http

    package = Path(gateway.http.__file__).parent
    own_parsing = [
        path.name
        for path in package.rglob("*.py")
        if path.name != "request_body.py"
        and any(word in path.read_text() for word in ("model_validate_json", "json.loads", ".json()"))
    ]
    assert own_parsing == []


@pytest.mark.parametrize(
    ("path", "code", "named"),
    [
        ("/ops/payouts?stauts=approved", "UNKNOWN_PARAMETER", "stauts"),
        ("/ops/notifications?status=dead&lmit=5", "UNKNOWN_PARAMETER", "lmit"),
        ("/ops/payouts?status=", "INVALID_ARGUMENT", "status"),
        ("/v1/payments?out_request_no=", "INVALID_ARGUMENT", "out_request_no"),
        ("/v1/payments/pay_x?expand=flow", "UNKNOWN_PARAMETER", "expand"),
    ],
)
async def test_a_misspelt_or_empty_query_parameter_is_refused_not_ignored(
    api: Any, path: str, code: str, named: str
) -> None:
    """A filter the route does not take would silently widen a list: refused, named."""
    status, body = await api.get(path)
    assert status == 400, body
    assert body["error"]["code"] == code and body["error"]["field"] == named
