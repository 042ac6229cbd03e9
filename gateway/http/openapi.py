"""The OpenAPI 3.1 document of the route table: operations, request bodies from their pydantic
models, the error envelope, the two security schemes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from gateway.http.routes import Route

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "AppSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": "HMAC-SHA256 over METHOD, path+query, X-Timestamp, "
        "X-Nonce and sha256(body), with X-App-Id",
    },
    "OperatorToken": {"type": "http", "scheme": "bearer"},
}

SECURITY_OF_AUTH: dict[str | None, list[dict[str, list[str]]]] = {
    "app": [{"AppSignature": []}],
    "ops": [{"OperatorToken": []}],
}


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route, request bodies from their pydantic schemas."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "paygate: unified payment channel gateway", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    """One route's operation; the schema of its body (and the models it uses) join `schemas`."""
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "responses": {"200": {"description": "OK"}, "4XX": error},
    }
    params = _path_parameters(route.path)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = _request_body(route.body, schemas)
    if route.auth in SECURITY_OF_AUTH:
        op["security"] = SECURITY_OF_AUTH[route.auth]
    return op


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": p.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
        for p in path.split("/")
        if p.startswith("{")
    ]


def _request_body(body: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[body.__name__] = schema
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
    }
