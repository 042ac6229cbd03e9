"""/openapi.json against the route table and the handlers' source: every query parameter a
handler reads is described, amounts and currencies carry their patterns, every answer has its
media type and the error envelope is exact."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from core.money import AMOUNT_PATTERN, CURRENCY_EXPONENTS
from gateway.http.openapi import openapi_document
from gateway.http.routes import ROUTES, Route
from gateway.http.schemas.answers import SIGNED_AMOUNT_PATTERN

DOCUMENT = openapi_document(ROUTES)
# request.query.get("x"), q.get("x") after q = request.query, int_query(request, "x", ...) and
# the lists' other <kind>_query(request, "x", ...) readers (gateway/http/listing.py)
_READS = re.compile(r'(?:query\.get|\bq\.get|_query\(request,)\s*\(?\s*"([a-z_]+)"')
# the lists' readers of several parameters at once
_READ_TOGETHER = {
    "page_request(request)": {"limit", "starting_after", "ending_before"},
    "created_window(request)": {"created_from", "created_to"},
}


def _operation(route: Route) -> dict[str, Any]:
    return dict(DOCUMENT["paths"][route.path][route.method.lower()])


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_the_query_parameters_are_those_the_handler_reads(route: Route) -> None:
    source = inspect.getsource(route.handler)
    read = set(_READS.findall(source))
    for call, names in _READ_TOGETHER.items():
        read |= names if call in source else set()
    described = {p["name"] for p in _operation(route).get("parameters", []) if p["in"] == "query"}
    assert described == read


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_answer_names_its_status_and_media_type(route: Route) -> None:
    responses = _operation(route)["responses"]
    assert responses and all(re.fullmatch(r"[1-5][0-9]{2}", status) for status in responses)
    assert all(answer.get("content") for answer in responses.values())
    for status, answer in responses.items():
        if status.startswith("4"):
            assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def _amount_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """Every property named like an amount, its optional form (`anyOf` with null) unwrapped."""
    return {
        name: next((s for s in prop.get("anyOf", []) if s.get("type") != "null"), prop)
        for name, prop in schema.get("properties", {}).items()
        if "amount" in name
    }


def test_amounts_and_currencies_carry_their_patterns() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    seen = 0
    for name, schema in schemas.items():
        if name == "PayoutItemBody":  # checked item by item, answered in the batch
            continue
        for field, prop in _amount_fields(schema).items():
            # answers may show a difference below zero (a refused reimbursement's real amount)
            assert prop.get("pattern") in (AMOUNT_PATTERN, SIGNED_AMOUNT_PATTERN), (name, field)
            seen += 1
        currency = schema.get("properties", {}).get("currency")
        if currency and "default" not in currency:
            assert set(currency["enum"]) == set(CURRENCY_EXPONENTS), name
    assert seen >= 10


def test_the_error_envelope_is_exact() -> None:
    error = DOCUMENT["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert error["properties"]["error"]["required"] == ["code", "message", "field"]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_json_success_has_the_schema_of_its_view(route: Route) -> None:
    """One schema per view: no success answer is described as just "an object"."""
    if route.path == "/openapi.json" or "application/json" not in route.answers:
        return
    for status, answer in _operation(route)["responses"].items():
        if status.startswith("2"):
            ref = answer["content"]["application/json"]["schema"]["$ref"]
            schema = _schema(ref)
            # a list route given the caller's own number answers that one item: either shape
            for shape in [_schema(one["$ref"]) for one in schema["anyOf"]] if "anyOf" in schema else [schema]:
                assert shape["additionalProperties"] is False and shape["required"], ref


def _schema(ref: str) -> dict[str, Any]:
    return dict(DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]])


def test_an_answer_outside_its_schema_is_caught() -> None:
    """The check every integration test runs on the answers it receives (tests/answer_contract.py)."""
    from answer_contract import check_answer

    payment = {
        "id": "pay_1",
        "out_request_no": "o-1",
        "status": "succeeded",
        "pay_method": "balance",
        "channel": "internal_transfer",
        "amount": "1.00",
        "currency": "CNY",
        "payer_account": None,
        "payee_account": None,
        "business_type": None,
        "memo": None,
        "channel_ref": None,
        "failure_code": None,
        "failure_message": None,
        "created_at": "2026-12-04T00:00:00+00:00",
        "updated_at": "2026-12-04T00:00:00+00:00",
    }
    check_answer("GET", "/v1/payments/pay_1", 200, payment)
    for broken in ({**payment, "card_no": "6222020000000000"}, {**payment, "amount": 1.0}, {"id": "pay_1"}):
        with pytest.raises(AssertionError, match="outside its schema"):
            check_answer("GET", "/v1/payments/pay_1", 200, broken)


def test_the_payout_bodies_show_the_seed_names_and_the_snake_case_ones() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    pairs = {
        "PayoutBatchBody": [
            ("trace_id", "traceId"),
            ("project_auth_id", "projectAuthId"),
            ("items", "outwardPayDatas"),
        ],
        "PayoutItemBody": [("serial_no", "projectOutwardPaySerialNo"), ("ext", "extData")],
        "PayoutExtBody": [
            ("pay_back_type", "payBackType"),
            ("business_type", "businessType"),
            ("send_sms", "sms"),
        ],
    }
    for name, fields in pairs.items():
        properties = schemas[name]["properties"]
        for snake, seed in fields:
            assert {snake, seed} <= set(properties), (name, snake, seed)
            assert seed in properties[snake]["description"]
    batch = schemas["PayoutBatchBody"]
    assert {"oneOf": [{"required": ["items"]}, {"required": ["outwardPayDatas"]}]} in batch["allOf"]
    assert {"not": {"required": ["trace_id", "traceId"]}} in batch["allOf"]
    assert "receivedMainBank" in schemas["PayoutExtBody"]["properties"]
