"""Every JSON success answer a test receives is checked against /openapi.json: the schema of the
route that answered (gateway/http/schemas/answers*.py). A view that adds, drops or retypes a
key without its answer model fails the test that received it."""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema_rs

from gateway.http.openapi import openapi_document
from gateway.http.routes import ROUTES


@functools.cache
def _operations() -> list[tuple[str, re.Pattern[str], Any]]:
    document = openapi_document(ROUTES)
    components = document["components"]
    found = []
    for path, operations in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema and "$ref" in schema:
                    validator = jsonschema_rs.Draft202012Validator({**schema, "components": components})
                    found.append((f"{method.upper()} {status}", pattern, validator))
    return found


def check_answer(method: str, path: str, status: int, body: Any) -> None:
    """Raise AssertionError when a 2xx JSON answer does not match its route's answer schema."""
    if not 200 <= status < 300:
        return
    key = f"{method.upper()} {status}"
    route_path = path.split("?", 1)[0]
    for operation, pattern, validator in _operations():
        if operation == key and pattern.match(route_path):
            errors = [
                f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)
            ]
            assert not errors, f"{method} {path} answered outside its schema: {errors[:5]}"
            return
