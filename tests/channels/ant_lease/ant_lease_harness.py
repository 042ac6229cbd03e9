"""Cassette harness of the Ant Lease channel tests (imported by conftest and tests).

Replays `cassettes/ant_lease/<test name>.yaml` offline. With PAYGATE_RECORD_CASSETTES=1 it
starts the lease sandbox on 127.0.0.1 (with the fixed sandbox-only keys in
cassettes/ant_lease/keys) and records afresh; the user's steps (opening a signing URL and
confirming) are played on the simulator itself, so only OpenAPI calls are recorded.
Timestamps and signatures differ on every run, so requests are matched on the HTTP method,
the path, the OpenAPI `method` parameter and the business key in `biz_content` (an upload's
`biz_no`, read from its multipart fields). Replayed
answers still go through the client's signature check with the sandbox's public key.

Re-record:  PAYGATE_RECORD_CASSETTES=1 .venv/bin/pytest tests/channels/ant_lease -k cassette
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import vcr

from core.lease.order import LeaseOrder
from core.lease.request import check_order
from core.money import Money
from gateway.http.schemas.lease import LeaseOrderBody
from plugins.alipay_openapi.sandbox_keys import ALIPAY_PUBLIC_KEY_FILE, APP_PRIVATE_KEY_FILE
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.sandbox import LeaseSandbox, open_signing_url
from plugins.ant_lease.settings import SANDBOX_APP_ID, AntLeaseSettings
from ports.channels import ChannelStatus

ROOT = Path(__file__).resolve().parents[3]
CASSETTES = ROOT / "cassettes" / "ant_lease"
KEYS = CASSETTES / "keys"
RECORDING = os.environ.get("PAYGATE_RECORD_CASSETTES") == "1"
REPLAY_GATEWAY = "http://127.0.0.1:9/gateway.do"  # never contacted: every answer is replayed
# What names the business object of a call, in the order it is looked for in biz_content.
BUSINESS_KEYS = (
    "out_trade_no",
    "external_agreement_no",
    "agreement_no",
    "out_order_id",
    "order_id",
    "biz_no",
)
# The lessor's signer of 落签 (made up; real leasing requires both settings).
SEAL_SIGNER = {"seal_signer_name": "测试出租方签署人", "seal_signer_cert_number": "110101199001010011"}


def _body_text(request: Any) -> str:
    body = getattr(request, "body_bytes", None)
    if body is None:
        body = vcr.util.read_body(request)
    if isinstance(body, bytes):
        return body.decode("utf-8")
    return body or ""


def _multipart_fields(request: Any) -> dict[str, str]:
    """The text fields of a multipart/form-data body (an upload such as seal.sign)."""
    content_type = request.headers.get("Content-Type") or request.headers.get("content-type") or ""
    body = getattr(request, "body_bytes", None) or vcr.util.read_body(request) or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=default).parsebytes(head + body)
    return {
        str(part.get_param("name", header="content-disposition")): part.get_content()
        for part in message.iter_parts()
        if part.get_filename() is None
    }


def lease_call(request: Any) -> tuple[str | None, str | None]:
    """What identifies an OpenAPI call across runs: its method and its business key (from
    biz_content, or from an upload's top-level parameters)."""
    params = dict(parse_qsl(urlsplit(request.uri).query))
    content_type = request.headers.get("Content-Type") or request.headers.get("content-type") or ""
    if content_type.startswith("multipart/form-data"):
        fields = _multipart_fields(request)
        return params.get("method"), fields.get("biz_no")
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

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BUYER = "2088102146225135"


def order(
    order_id: str, buyer_id: str = BUYER, amounts: tuple[str, ...] = ("100.00", "100.00")
) -> LeaseOrder:
    total = Money(sum(Money.parse(a, "CNY").minor for a in amounts), "CNY")
    body = LeaseOrderBody.model_validate(
        {
            "out_order_no": f"RENT-{order_id[-6:]}",
            "buyer_id": buyer_id,
            "title": "iPhone 16 租赁",
            "total_amount": str(total),
            "period_count": len(amounts),
            "periods": [{"due_date": f"2026-0{i + 3}-01", "amount": a} for i, a in enumerate(amounts)],
        }
    )
    return LeaseOrder.new(order_id, "shop", check_order(body), "hash", "ant_lease", T0)


async def synced(adapter: AntLeaseAdapter, o: LeaseOrder) -> LeaseOrder:
    answer = await adapter.sync_order(o)
    assert answer.status is ChannelStatus.SUCCEEDED, answer
    return o.synced(str(answer.data["channel_order_id"]), T0)


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
    settings = AntLeaseSettings.model_validate({"openapi": openapi(gateway_url), **SEAL_SIGNER})
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
