"""Echo: a third-party channel that pays in memory; its scenarios are chosen by the cents.

.00-.00 succeed; .02 fails; .01 answers unknown on submit (the payment IS made) and the truth
comes from query; .03 stays unknown forever; .04 answers processing, then succeeds on query;
.05 is refused before anything is sent (RequestNotSent).
Notifications are JSON bodies signed with HMAC-SHA256 in the X-Echo-Signature header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ports.channels import (
    Channel,
    ChannelNotification,
    ChannelResult,
    ChannelServices,
    ChannelStatus,
    NotificationRejected,
    PaymentRequest,
    RequestNotSent,
)
from ports.hookspecs import hookimpl


class EchoChannel:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.paid: dict[str, ChannelResult] = {}  # payment id -> the outcome, made once
        self.submits = 0

    def _outcome(self, request: PaymentRequest) -> ChannelResult:
        cents = request.amount.minor % 100
        ref = f"echo-{request.payment_id}"
        if cents == 2:
            return ChannelResult(ChannelStatus.FAILED, ref, code="DECLINED", message="echo declined")
        return ChannelResult(ChannelStatus.SUCCEEDED, ref)

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        if request.amount.minor % 100 == 5:
            raise RequestNotSent("ECHO_BAD_REQUEST", "echo cannot encode this request")
        self.submits += 1
        outcome = self.paid.setdefault(request.payment_id, self._outcome(request))
        cents = request.amount.minor % 100
        if cents in (1, 3):
            return ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT", message="echo timed out")
        if cents == 4:
            return ChannelResult(ChannelStatus.PROCESSING, outcome.channel_ref)
        return outcome

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        outcome = self.paid.get(request.payment_id)
        if outcome is None or request.amount.minor % 100 == 3:
            return ChannelResult(ChannelStatus.UNKNOWN, code="NOT_FOUND_YET")
        return outcome

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    async def verify_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        given = {k.lower(): v for k, v in headers.items()}.get("x-echo-signature", "")
        if not hmac.compare_digest(self.sign(body), given):
            raise NotificationRejected("bad echo signature")
        data: dict[str, Any] = json.loads(body)
        status = ChannelStatus(data["status"])
        return ChannelNotification(data["payment_id"], ChannelResult(status, data.get("ref")), "ok")


@hookimpl
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    config = dict(settings.get("echo", {}))
    adapter = EchoChannel(str(config.get("secret", "echo-secret")))
    return [
        Channel(
            code="echo",
            pay_methods=frozenset({"echo"}),
            currencies=frozenset({"CNY"}),
            payment=adapter,
            query=adapter,
            notification=adapter,
            description="third-party test channel",
        )
    ]
