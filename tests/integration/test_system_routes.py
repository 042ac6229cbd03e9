"""Operations surface: health, Prometheus metrics, the OpenAPI document covering every route."""

from __future__ import annotations

from typing import Any

from paygate_testkit import SignedClient


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
