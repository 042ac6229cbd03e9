"""The OpenAPI 3.1 document of the route table: operations with the query parameters each
handler reads, request bodies from their pydantic models, the answers (statuses, media types,
the error envelope), the two security schemes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from gateway.http.request_body import MAX_PATH_PARAMETER

if TYPE_CHECKING:
    from gateway.http.routes import Route

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"], "description": "the field or header at fault"},
                "bill_id": {"type": "string", "description": "a refused bill: the bill it is about"},
            },
        }
    },
}

ERROR_MEANINGS = {
    400: "The request is malformed: see error.code and error.field",
    401: "Not authenticated",
    403: "Forbidden: the operator lacks the role the route needs (ROLE_REQUIRED), or /metrics "
    "was asked from another host without the metrics token (METRICS_LOCAL_ONLY)",
    404: "Not found",
    409: "Conflicts with the current state or an earlier request with the same key",
    413: "The body is too large",
    415: "The body is compressed (Content-Encoding): send it uncompressed",
    422: "Refused by a business rule or by the channel",
    502: "The channel's answer is not known; repeat the request",
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
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "responses": _responses(route, schemas),
    }
    params = _path_parameters(route) + [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "schema": q.schema,
            "description": q.description,
        }
        for q in route.query
    ]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = _request_body(route.body, schemas)
    for model in route.models:
        _add_schema(model, schemas)
    if route.auth in SECURITY_OF_AUTH:
        op["security"] = SECURITY_OF_AUTH[route.auth]
    return op


def error_statuses(route: Route) -> list[int]:
    """What a route answers when it refuses: authenticated routes may not find what the path
    names or refuse the arguments; writes may also conflict, break a rule or come compressed;
    /v1 limits bodies."""
    statuses = set(route.errors)
    if route.auth is not None:
        statuses |= {400, 401, 404}
        if route.method == "POST":
            statuses |= {409, 415, 422}
        if route.auth == "app":
            statuses.add(413)
        if route.auth == "ops":
            statuses.add(403)
    return sorted(statuses)


def _responses(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    if route.response is not None:
        _add_schema(route.response, schemas, "serialization")
        success: dict[str, Any] = {"$ref": f"#/components/schemas/{route.response.__name__}"}
    else:
        success = {"type": "object"}
    responses: dict[str, Any] = {
        str(status): {
            "description": "OK" if status == 200 else ("Created" if status == 201 else "Accepted"),
            "content": {
                media: {"schema": success if media == "application/json" else {"type": "string"}}
                for media in route.answers
            },
        }
        for status in route.ok
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for status in error_statuses(route):
        content = {
            **error,
            **({"text/plain": {"schema": {"type": "string"}}} if status in route.text_errors else {}),
        }
        responses[str(status)] = {"description": ERROR_MEANINGS[status], "content": content}
    return responses


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": route.path_schemas.get(
                name, {"type": "string", "minLength": 1, "maxLength": MAX_PATH_PARAMETER}
            ),
        }
        for name in (p.strip("{}") for p in route.path.split("/") if p.startswith("{"))
    ]


def _add_schema(
    model: type[BaseModel], schemas: dict[str, Any], mode: JsonSchemaMode = "validation"
) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return schema


def _request_body(body: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = _add_schema(body, schemas)
    return {
        "required": bool(schema.get("required")),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
    }
