"""Schemathesis over /openapi.json against the app served on 127.0.0.1 with SQLite and PostgreSQL: every
operation, a bounded number of derandomized examples each, /v1 requests signed like a caller
app's and /ops requests with the operator token. The answers must be no 5xx, and their status
codes, media types and bodies must be the ones the document describes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed: pip install -e '.[test]'"
)

import requests  # noqa: E402  (schemathesis' transport; it comes with schemathesis)
import yarl  # noqa: E402
from aiohttp import web  # noqa: E402
from dependency_injector import providers  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from paygate_testkit import (  # noqa: E402
    APP_ID,
    APP_SECRET,
    DATABASES,
    demo_token_for,
    free_port,
    make_settings,
    own_postgres_database,
)
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.parameters import ParameterLocation  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from gateway.auth import signed_headers  # noqa: E402
from gateway.http.openapi import openapi_document  # noqa: E402
from gateway.http.routes import ROUTES  # noqa: E402

EXAMPLES_PER_OPERATION = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,  # what the document calls invalid is refused
    unsupported_method,  # a method the document does not list: 405 with a true Allow header
]

ANSWERS: Counter[tuple[str, int]] = Counter()

SCHEMA = schemathesis.openapi.from_dict(openapi_document(ROUTES))


class Signed(requests.auth.AuthBase):
    """Signs each /v1 request over the bytes that are sent; the operator token on /ops."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = yarl.URL(str(request.url))
        if url.path.startswith("/v1/"):
            body = request.body or b""
            raw = body.encode() if isinstance(body, str) else bytes(body)
            request.headers.update(
                signed_headers(
                    APP_ID,
                    APP_SECRET,
                    str(request.method),
                    request.path_url,  # the request target as sent (aiohttp's path_qs)
                    raw,
                    timestamp=int(time.time()),
                    nonce=secrets.token_hex(12),
                )
            )
        elif url.path.startswith("/ops/"):
            request.headers["Authorization"] = f"Bearer {demo_token_for(str(request.method), url.path)}"
        return request


@contextlib.contextmanager
def _database(engine: str, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """A new migrated database of `engine` for the module's gateway."""
    if engine == "postgresql":
        with own_postgres_database("paygate_schemathesis") as url:
            yield url
        return
    path = tmp_path_factory.mktemp("schemathesis") / "paygate.db"
    shutil.copy(sqlite_template, path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="module", params=DATABASES)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[str]:
    """The gateway on a free 127.0.0.1 port, served from a thread with its own event loop, on
    SQLite and on PostgreSQL (where a text PostgreSQL refuses, a NUL, was a 500 once)."""
    with _database(request.param, tmp_path_factory, sqlite_template) as url:
        yield from _serve(url)


def _serve(url: str) -> Iterator[str]:
    from gateway.app import create_app
    from gateway.container import Container

    container = Container()
    container.settings.override(providers.Object(make_settings(url)))
    runner = web.AppRunner(create_app(container))
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="served-gateway", daemon=True)
    thread.start()
    assert started.wait(30), "the gateway did not start"
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    if os.environ.get("SCHEMATHESIS_REPORT"):
        for (operation, status), count in sorted(ANSWERS.items()):
            print(f"{operation}: {status} x{count}", file=sys.__stderr__)


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_the_document_says(case: Any, served: str) -> None:
    unsigned = _without_credentials(case)
    response = case.call(base_url=served, auth=None if unsigned else Signed(), timeout=30)
    ANSWERS[(case.operation.label, response.status_code)] += 1
    if not unsigned:
        assert response.status_code != 401, f"the signing hook failed: {response.text}"
    case.validate_response(response, checks=CHECKS)


def _without_credentials(case: Any) -> bool:
    """A negative case that leaves the credentials out or breaks them (`Missing X-Signature`):
    sent unsigned, it must be refused. The credentials are the only headers the document
    names, so a case whose headers are negative is one, even when another part (the query) is
    its first mutation: signing it would repair it into a valid request."""
    meta = case.meta
    data = getattr(getattr(meta, "phase", None), "data", None)
    if getattr(data, "parameter", None) in {"X-Signature", "Authorization"}:
        return True
    headers = getattr(meta, "components", {}).get(ParameterLocation.HEADER)
    return headers is not None and headers.mode.is_negative
