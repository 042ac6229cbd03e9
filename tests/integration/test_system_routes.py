"""Operations surface: health, Prometheus metrics, the OpenAPI document covering every route."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from dependency_injector import providers
from paygate_testkit import SignedClient, make_settings

from gateway.http.metrics_access import metrics_refusal
from gateway.settings import MetricsSettings

METRICS_TOKEN = "scrape-token-0123456789"


async def test_healthz_reports_database_and_channels(api: SignedClient) -> None:
    response = await api.client.get("/healthz")
    body = await response.json()
    assert response.status == 200 and body == {"status": "ok", "channels": ["internal_transfer"]}


async def test_metrics_count_requests_in_prometheus_format(api: SignedClient) -> None:
    await api.client.get("/healthz")
    response = await api.client.get("/metrics")
    text = await response.text()
    assert response.status == 200 and response.content_type == "text/plain"
    assert 'paygate_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert "paygate_payments_escalated 0.0" in text and "paygate_outbox_dead 0.0" in text


async def test_metrics_with_a_token_answer_only_its_holder(aiohttp_client: Any, database_url: str) -> None:
    from gateway.app import create_app
    from gateway.container import Container

    container = Container()
    settings = make_settings(database_url, metrics={"token": METRICS_TOKEN})
    container.settings.override(providers.Object(settings))
    client = await aiohttp_client(create_app(container))
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": METRICS_TOKEN}):
        refused = await client.get("/metrics", headers=headers)
        body = await refused.json()
        assert refused.status == 401 and body["error"]["code"] == "UNAUTHENTICATED", body
        assert METRICS_TOKEN not in await refused.text()
    answered = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answered.status == 200 and "paygate_outbox_dead" in await answered.text()


def _asked_from(address: str | None) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (address, 40000) if name == "peername" and address is not None else default
    )
    return make_mocked_request("GET", "/metrics", transport=transport)


@pytest.mark.parametrize(
    ("address", "answered"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("127.8.0.2", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.7", False),
        ("10.0.0.7", False),
        ("192.168.1.5", False),
        ("2001:db8::1", False),
        (None, False),
    ],
)
def test_metrics_without_a_token_are_for_this_host_only(address: str | None, answered: bool) -> None:
    refusal = metrics_refusal(_asked_from(address), MetricsSettings())
    if answered:
        assert refusal is None
    else:
        assert refusal is not None and refusal.status == 403
        assert refusal.text is not None and "METRICS_LOCAL_ONLY" in refusal.text


def test_a_metrics_token_answers_any_host_that_holds_it() -> None:
    settings = MetricsSettings(token=METRICS_TOKEN)
    request = _asked_from("10.0.0.7")
    held = make_mocked_request(
        "GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, transport=request.transport
    )
    assert metrics_refusal(held, settings) is None
    loopback_without = _asked_from("127.0.0.1")
    refusal = metrics_refusal(loopback_without, settings)
    assert refusal is not None and refusal.status == 401


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        MetricsSettings(token="short")


async def test_openapi_describes_every_route(api: SignedClient) -> None:
    response = await api.client.get("/openapi.json")
    document = await response.json()
    assert document["openapi"].startswith("3.")
    served = {
        (r.method.lower(), r.resource.canonical)
        for r in api.client.app.router.routes()
        if r.method != "HEAD"
        and r.resource is not None
        # the web console's HTML pages are not the JSON API (docs/CONSOLE.md)
        and not r.resource.canonical.startswith("/console")
    }
    described = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == described
    payment = document["components"]["schemas"]["PaymentBody"]
    assert {"out_request_no", "amount", "currency", "pay_method"} <= set(payment["required"])


async def test_account_numbers_are_masked_in_logs(api: SignedClient, caplog: Any) -> None:
    from gateway.logs import mask_text

    assert mask_text("payee 6222021234567890123") == "payee 6222***********0123"
    assert mask_text("amount 12.34 on 2026") == "amount 12.34 on 2026"
