"""Cassette harness of the Ant Lease channel tests (imported by conftest and tests).

Replays `cassettes/ant_lease/<test name>.yaml` offline. With PAYGATE_RECORD_CASSETTES=1 it
starts the lease sandbox on 127.0.0.1 (with the fixed sandbox-only keys in
cassettes/ant_lease/keys) and records afresh; the user's steps (opening a signing URL and
confirming) are played on the simulator itself, so only OpenAPI calls are recorded.
Timestamps and signatures differ on every run, so requests are matched on the HTTP method,
the path, the OpenAPI `method` parameter and the business key in `biz_content`. Replayed
answers still go through the client's signature check with the sandbox's public key.

Re-record:  PAYGATE_RECORD_CASSETTES=1 .venv/bin/pytest tests/channels/ant_lease -k cassette
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import vcr

from plugins.alipay_openapi.sandbox_keys import ALIPAY_PUBLIC_KEY_FILE, APP_PRIVATE_KEY_FILE
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.sandbox import LeaseSandbox, open_signing_url
from plugins.ant_lease.settings import SANDBOX_APP_ID, AntLeaseSettings

ROOT = Path(__file__).resolve().parents[3]
CASSETTES = ROOT / "cassettes" / "ant_lease"
KEYS = CASSETTES / "keys"
RECORDING = os.environ.get("PAYGATE_RECORD_CASSETTES") == "1"
REPLAY_GATEWAY = "http://127.0.0.1:9/gateway.do"  # never contacted: every answer is replayed
# What names the business object of a call, in the order it is looked for in biz_content.
BUSINESS_KEYS = ("out_trade_no", "external_agreement_no", "agreement_no", "out_order_id", "order_id")


def _body_text(request: Any) -> str:
    body = getattr(request, "body_bytes", None)
    if body is None:
        body = vcr.util.read_body(request)
    if isinstance(body, bytes):
        return body.decode("utf-8")
    return body or ""


def lease_call(request: Any) -> tuple[str | None, str | None]:
    """What identifies an OpenAPI call across runs: its method and its business key."""
    params = dict(parse_qsl(urlsplit(request.uri).query))
    params.update(parse_qsl(_body_text(request)))
    biz = json.loads(params.get("biz_content") or "{}")
    key = next((str(biz[name]) for name in BUSINESS_KEYS if biz.get(name)), None)
    return params.get("method"), key


def match_lease_call(r1: Any, r2: Any) -> None:
    if lease_call(r1) != lease_call(r2):
        raise AssertionError(f"{lease_call(r1)} != {lease_call(r2)}")


lease_vcr = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="all" if RECORDING else "none",
    drop_unused_requests=RECORDING,
    match_on=["method", "path", "lease_call"],
)
lease_vcr.register_matcher("lease_call", match_lease_call)


def openapi(gateway_url: str, **overrides: Any) -> dict[str, Any]:
    """OpenAPI settings holding the fixed sandbox-only keys."""
    return {
        "gateway_url": gateway_url,
        "app_id": SANDBOX_APP_ID,
        "app_private_key": (KEYS / APP_PRIVATE_KEY_FILE).read_text(),
        "alipay_public_key": (KEYS / ALIPAY_PUBLIC_KEY_FILE).read_text(),
        "timeout_seconds": 5,
        **overrides,
    }


def make_adapter(gateway_url: str) -> AntLeaseAdapter:
    settings = AntLeaseSettings.model_validate({"openapi": openapi(gateway_url)})
    return AntLeaseAdapter(settings, settings.openapi_settings())


def cassette_name(request: pytest.FixtureRequest) -> str:
    return request.node.name.removeprefix("test_") + ".yaml"


@dataclass
class User:
    """Plays the lessee on the simulator while recording; replays need no user (the recorded
    answers already show what the user did)."""

    sandbox: LeaseSandbox | None

    async def sign(self, url: str, decision: str = "confirm") -> dict[str, Any] | None:
        if self.sandbox is None:
            return None
        return await open_signing_url(self.sandbox.app, url, decision)
