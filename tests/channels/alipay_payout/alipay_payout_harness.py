"""Cassette harness for the Alipay payout channel tests (imported by conftest and tests).

Replays `cassettes/alipay_payout/<test name>.yaml` offline. With PAYGATE_RECORD_CASSETTES=1
it starts the payout sandbox on 127.0.0.1 (with the fixed sandbox-only keys) and records
afresh. Timestamps and signatures differ on every run, so requests are matched on the HTTP
method, the path, the OpenAPI `method` parameter and the order numbers in `biz_content`.
Replayed answers still go through the client's signature check with the sandbox's public key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import vcr

from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_payout.sandbox import (
    ALIPAY_PUBLIC_KEY_FILE,
    APP_PRIVATE_KEY_FILE,
    SANDBOX_APP_ID,
)

ROOT = Path(__file__).resolve().parents[3]
CASSETTES = ROOT / "cassettes" / "alipay_payout"
KEYS = CASSETTES / "keys"
RECORDING = os.environ.get("PAYGATE_RECORD_CASSETTES") == "1"
REPLAY_GATEWAY = "http://127.0.0.1:9/gateway.do"  # never contacted: every answer is replayed


def _body_text(request: Any) -> str:
    body = getattr(request, "body_bytes", None)
    if body is None:
        body = vcr.util.read_body(request)
    if isinstance(body, bytes):
        return body.decode("utf-8")
    return body or ""


def alipay_call(request: Any) -> tuple[str | None, ...]:
    """What identifies an OpenAPI call across runs: its method and its order numbers."""
    params = dict(parse_qsl(urlsplit(request.uri).query))
    params.update(parse_qsl(_body_text(request)))
    biz = json.loads(params.get("biz_content") or "{}")
    return (
        params.get("method"),
        biz.get("out_biz_no"),
        biz.get("order_id"),
        biz.get("pay_fund_order_id"),
    )


def match_alipay_call(r1: Any, r2: Any) -> None:
    if alipay_call(r1) != alipay_call(r2):
        raise AssertionError(f"{alipay_call(r1)} != {alipay_call(r2)}")


payout_vcr = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="all" if RECORDING else "none",
    drop_unused_requests=RECORDING,
    match_on=["method", "path", "alipay_call"],
)
payout_vcr.register_matcher("alipay_call", match_alipay_call)


def sandbox_settings(gateway_url: str, **overrides: Any) -> AlipayOpenApiSettings:
    """Client settings holding the fixed sandbox-only keys."""
    values: dict[str, Any] = {
        "gateway_url": gateway_url,
        "app_id": SANDBOX_APP_ID,
        "app_private_key": (KEYS / APP_PRIVATE_KEY_FILE).read_text(),
        "alipay_public_key": (KEYS / ALIPAY_PUBLIC_KEY_FILE).read_text(),
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return AlipayOpenApiSettings.model_validate(values)


def cassette_name(request: pytest.FixtureRequest) -> str:
    return request.node.name.removeprefix("test_") + ".yaml"
