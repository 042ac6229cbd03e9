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

DOCUMENT = openapi_document(ROUTES)
# request.query.get("x"), q.get("x") after q = request.query, int_query(request, "x", ...)
_READS = re.compile(r'(?:query\.get|\bq\.get|int_query\(request,)\s*\(?\s*"([a-z_]+)"')


def _operation(route: Route) -> dict[str, Any]:
    return dict(DOCUMENT["paths"][route.path][route.method.lower()])


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_the_query_parameters_are_those_the_handler_reads(route: Route) -> None:
    read = set(_READS.findall(inspect.getsource(route.handler)))
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
    return {name: prop for name, prop in schema.get("properties", {}).items() if "amount" in name}


def test_amounts_and_currencies_carry_their_patterns() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    seen = 0
    for name, schema in schemas.items():
        if name == "PayoutItemBody":  # checked item by item, answered in the batch
            continue
        for field, prop in _amount_fields(schema).items():
            assert prop.get("pattern") == AMOUNT_PATTERN, (name, field)
            seen += 1
        currency = schema.get("properties", {}).get("currency")
        if currency and "default" not in currency:
            assert set(currency["enum"]) == set(CURRENCY_EXPONENTS), name
    assert seen >= 10


def test_the_error_envelope_is_exact() -> None:
    error = DOCUMENT["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert error["properties"]["error"]["required"] == ["code", "message", "field"]


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
