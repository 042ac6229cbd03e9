"""The echo channel keeps the port contracts: the conformance suite paygate ships as a pytest plugin."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

import paygate_echo_channel
import pytest

from core.money import Money
from ports.channels import ChannelStatus, PaymentRequest
from ports.conformance import ChannelConformance, ConformanceSubject, new_payment_id

# The gateway's conformance suite, loaded by its pytest plugin name (the pytest11 entry point).
pytest_plugins = ["paygate_conformance"]

SECRET = "echo-conformance-secret"
CENTS = {"success": "5.00", "failure": "5.02", "unknown": "5.01", "not_sent": "5.05"}


class NoAccounts:
    async def get_accounts(self, ids: object) -> dict[str, object]:
        return {}


class TestEchoConformance(ChannelConformance):
    @pytest.fixture
    def subject(self) -> ConformanceSubject:
        from ports.channels import ChannelServices

        [channel] = paygate_echo_channel.register_channels(
            settings={"echo": {"secret": SECRET}}, services=ChannelServices(NoAccounts())
        )

        def request(scenario: str) -> PaymentRequest:
            return PaymentRequest(
                new_payment_id(), "app", "echo", Money.parse(CENTS[scenario], "CNY"), None, "payee"
            )

        async def notification(req: PaymentRequest, status: ChannelStatus) -> tuple[Mapping[str, str], bytes]:
            body = json.dumps({"payment_id": req.payment_id, "status": status.value}).encode()
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            return {"X-Echo-Signature": signature}, body

        return ConformanceSubject(
            channel=channel, request=request, notification=notification, refuses_before_sending=True
        )
