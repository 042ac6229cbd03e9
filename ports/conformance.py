"""The channel conformance suite: the port contracts every channel plugin must keep.

It is a pytest plugin, installed with paygate under the name `paygate_conformance` (a
`pytest11` entry point). A channel package loads it by name — `pytest_plugins =
["paygate_conformance"]` in a test module (or the rootdir conftest.py), or `pytest -p paygate_conformance`
— and runs it against its own plugin by subclassing::

    from ports.conformance import ChannelConformance, ConformanceSubject

    class TestMyChannel(ChannelConformance):
        @pytest.fixture
        def subject(self) -> ConformanceSubject:
            return ConformanceSubject(channel=..., request=..., ...)

Loaded as a plugin, the suite's assertions are rewritten by pytest (their failures show the
values), and every test it contributes carries the `conformance` marker (`-m conformance`).
It needs pytest (a test dependency) and nothing of the gateway.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType

import pytest

from core.usecases.payments.calls import submit_answer
from ports.channels import (
    Channel,
    ChannelNotification,
    ChannelResult,
    ChannelStatus,
    NotificationRejected,
    PaymentPort,
    PaymentRequest,
    RequestNotSent,
)

FINAL = {ChannelStatus.SUCCEEDED, ChannelStatus.FAILED}

# A scenario name -> a fresh payment request (new payment id each call). Required scenarios:
# "success", "failure" (the channel refuses it) and "unknown" (the channel pays but the submit
# answer does not say so: timeout, system error ...). Optional: "not_sent", a request the
# adapter refuses before anything leaves the gateway (see ConformanceSubject.refuses_before_sending).
RequestFactory = Callable[[str], PaymentRequest]
NotificationFactory = Callable[[PaymentRequest, ChannelStatus], Awaitable[tuple[Mapping[str, str], bytes]]]


@dataclass
class ConformanceSubject:
    channel: Channel
    request: RequestFactory
    # A genuine callback for a submitted payment, as the channel would send it (None: no callbacks).
    notification: NotificationFactory | None = None
    # Resolve an unknown outcome: how many queries the channel may need before it is final.
    max_queries: int = 5
    # Scenarios (names `request` takes) whose submission answer cannot be trusted: unsigned,
    # badly signed or malformed. Each must be unknown, never failed. Empty: not tested.
    unverifiable_scenarios: tuple[str, ...] = ()
    # The request factory knows "not_sent": a request its adapter raises RequestNotSent for.
    refuses_before_sending: bool = False
    # The channel answers a query about an order it never received with a definite "no such
    # order" (ChannelResult.order_not_found): the resolver then resends it, same id, after its deadline.
    reports_order_not_found: bool = False
    # The channel built to talk to `base_url` ("http://127.0.0.1:<port>") in place of the
    # service that takes its payments (its other local services, e.g. a signing server, stay
    # as they are), with an HTTP timeout of about a second. The suite points it at a port that
    # refuses connections (nothing sent: the payment fails) and at a server that reads the
    # request and never answers or drops the connection (unknown). None: not tested.
    channel_at: Callable[[str], Channel] | None = None


def new_payment_id() -> str:
    return f"pay_{uuid.uuid4().hex}"


class AnswerLost:
    """A payment port whose request reaches the channel but whose answer times out on the way back."""

    def __init__(self, port: PaymentPort) -> None:
        self.port = port

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        await self.port.submit(request)
        raise TimeoutError("the answer was lost after the request was sent")


def refused_port() -> int:
    """A local port nothing listens on: a connection to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SilentServer:
    """A local HTTP endpoint that reads what arrives and never answers, or with `drop` closes
    the connection once the request has arrived: a request that left and got no answer."""

    drop: bool = False
    received: bytearray = field(default_factory=bytearray)
    _server: asyncio.Server | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.received.extend(await reader.read(65536))
        if not self.drop:
            await self._released.wait()
        writer.close()

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._released.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def _closed(channel: Channel) -> None:
    if channel.close is not None:
        await channel.close()


class ChannelConformance:
    """Subclass and provide the `subject` fixture."""

    @pytest.fixture
    def subject(self) -> ConformanceSubject:  # pragma: no cover - provided by the subclass
        raise pytest.UsageError("define a `subject` fixture returning a ConformanceSubject")

    def test_declares_what_it_can_do(self, subject: ConformanceSubject) -> None:
        channel = subject.channel
        assert channel.code and channel.code == channel.code.strip()
        assert channel.pay_methods, "a channel supports at least one pay method"
        assert channel.currencies, "a channel supports at least one currency"
        assert {"payment", "query"} <= channel.ports, "paying needs the payment and query ports"

    async def test_success_maps_to_succeeded(self, subject: ConformanceSubject) -> None:
        assert subject.channel.payment is not None and subject.channel.query is not None
        request = subject.request("success")
        result = await subject.channel.payment.submit(request)
        if result.status not in FINAL:
            result = await self._resolve(subject, request, result.channel_ref)
        assert result.status is ChannelStatus.SUCCEEDED

    async def test_failure_maps_to_failed_with_a_code(self, subject: ConformanceSubject) -> None:
        assert subject.channel.payment is not None
        request = subject.request("failure")
        result = await subject.channel.payment.submit(request)
        if result.status not in FINAL:
            result = await self._resolve(subject, request, result.channel_ref)
        assert result.status is ChannelStatus.FAILED
        assert result.code, "a failure says why, with a code"

    async def test_resubmit_is_idempotent(self, subject: ConformanceSubject) -> None:
        assert subject.channel.payment is not None
        request = subject.request("success")
        first = await subject.channel.payment.submit(request)
        again = await subject.channel.payment.submit(request)
        assert again.status in (first.status, ChannelStatus.SUCCEEDED, ChannelStatus.PROCESSING)
        final_first = await self._resolve(subject, request, first.channel_ref)
        final_again = await self._resolve(subject, request, again.channel_ref)
        assert final_first.status is final_again.status is ChannelStatus.SUCCEEDED
        assert final_first.channel_ref == final_again.channel_ref, "one payment, one channel reference"

    async def test_unknown_outcome_is_resolved_by_query(self, subject: ConformanceSubject) -> None:
        assert subject.channel.payment is not None
        request = subject.request("unknown")
        result = await subject.channel.payment.submit(request)
        assert result.status in (ChannelStatus.UNKNOWN, ChannelStatus.PROCESSING)
        resolved = await self._resolve(subject, request, result.channel_ref)
        assert resolved.status in FINAL

    async def test_unverifiable_answer_is_unknown_never_failed(self, subject: ConformanceSubject) -> None:
        """Only a definite, verified refusal is a failure: an answer the channel cannot verify
        (unsigned, badly signed, malformed) says nothing about whether the money moved."""
        if not subject.unverifiable_scenarios:
            pytest.skip(f"channel {subject.channel.code} names no unverifiable-answer scenario")
        assert subject.channel.payment is not None
        for scenario in subject.unverifiable_scenarios:
            result = await subject.channel.payment.submit(subject.request(scenario))
            assert result.status is ChannelStatus.UNKNOWN, (
                f"scenario {scenario!r}: an unverifiable answer gave {result.status.value} ({result.code})"
            )

    async def test_request_not_sent_fails_the_payment_and_a_lost_answer_is_unknown(
        self, subject: ConformanceSubject
    ) -> None:
        """Through the gateway's rule (core.usecases.payments.calls): a request the adapter is
        sure it did not send fails with its code and leaves nothing at the channel; a timeout
        after sending is unknown, and the query port then finds what the channel did."""
        channel = subject.channel
        assert channel.payment is not None
        if subject.refuses_before_sending:
            request = subject.request("not_sent")
            with pytest.raises(RequestNotSent) as unsent:
                await channel.payment.submit(request)
            assert unsent.value.code, "a request not sent says why, with a code"
            failed = await submit_answer(channel, request, timeout=30)
            assert (failed.status, failed.code) == (ChannelStatus.FAILED, unsent.value.code)
            assert (await self._resolve(subject, request, None)).status is not ChannelStatus.SUCCEEDED
        request = subject.request("success")
        lost = await submit_answer(replace(channel, payment=AnswerLost(channel.payment)), request, timeout=30)
        assert lost.status is ChannelStatus.UNKNOWN
        assert (await self._resolve(subject, request, None)).status is ChannelStatus.SUCCEEDED

    async def test_a_refused_connection_is_not_sent_and_fails_the_payment(
        self, subject: ConformanceSubject
    ) -> None:
        """No connection opened, no byte sent: `RequestNotSent` with a code, and through the
        gateway's rule a failed payment, never an unknown one queried for ever."""
        if subject.channel_at is None:
            pytest.skip(f"channel {subject.channel.code} gives no channel_at")
        channel = subject.channel_at(f"http://127.0.0.1:{refused_port()}")
        try:
            assert channel.payment is not None
            request = subject.request("success")
            with pytest.raises(RequestNotSent) as unsent:
                await channel.payment.submit(request)
            assert unsent.value.code, "a request not sent says why, with a code"
            failed = await submit_answer(channel, request, timeout=30)
            assert (failed.status, failed.code) == (ChannelStatus.FAILED, unsent.value.code)
        finally:
            await _closed(channel)

    @pytest.mark.parametrize("drop", [False, True], ids=["no-answer", "dropped"])
    async def test_a_request_that_left_without_an_answer_is_unknown_never_failed(
        self, subject: ConformanceSubject, drop: bool
    ) -> None:
        """The connection opened and the request went out, then no answer came (a read
        timeout) or the connection was dropped: the channel may have paid, so it is unknown."""
        if subject.channel_at is None:
            pytest.skip(f"channel {subject.channel.code} gives no channel_at")
        async with SilentServer(drop=drop) as server:
            channel = subject.channel_at(server.url)
            try:
                assert channel.payment is not None
                result = await submit_answer(channel, subject.request("success"), timeout=30)
            finally:
                await _closed(channel)
        assert server.received, "the request reached the server"
        assert result.status is ChannelStatus.UNKNOWN, f"{result.status.value} ({result.code})"

    async def test_query_of_an_unsent_payment_is_never_success(self, subject: ConformanceSubject) -> None:
        assert subject.channel.query is not None
        request = subject.request("success")
        result = await subject.channel.query.query(request, None)
        assert result.status is not ChannelStatus.SUCCEEDED
        # "no such order" may be a lag at the channel: it is unknown, never a failure
        assert not result.order_not_found or result.status is ChannelStatus.UNKNOWN
        if subject.reports_order_not_found:
            assert result.order_not_found, f"a payment never sent was queried as {result.status.value}"

    async def test_a_submitted_payment_is_never_reported_not_found(self, subject: ConformanceSubject) -> None:
        """A channel that says "no such order" must mean it: the resolver resends on that answer."""
        assert subject.channel.payment is not None and subject.channel.query is not None
        request = subject.request("success")
        await subject.channel.payment.submit(request)
        assert not (await subject.channel.query.query(request, None)).order_not_found

    async def test_genuine_notification_is_verified(self, subject: ConformanceSubject) -> None:
        if subject.notification is None or subject.channel.notification is None:
            pytest.skip(f"channel {subject.channel.code} sends no callbacks")
        assert subject.channel.payment is not None
        request = subject.request("success")
        await subject.channel.payment.submit(request)
        headers, body = await subject.notification(request, ChannelStatus.SUCCEEDED)
        notice = await subject.channel.notification.verify_notification(headers, body)
        assert isinstance(notice, ChannelNotification)
        assert notice.payment_id == request.payment_id
        assert notice.result is not None and notice.result.status is ChannelStatus.SUCCEEDED

    async def test_forged_notification_is_rejected(self, subject: ConformanceSubject) -> None:
        if subject.notification is None or subject.channel.notification is None:
            pytest.skip(f"channel {subject.channel.code} sends no callbacks")
        request = subject.request("success")
        headers, body = await subject.notification(request, ChannelStatus.SUCCEEDED)
        tampered = body.replace(b"succeeded", b"failed") if b"succeeded" in body else body + b" "
        with pytest.raises(NotificationRejected):
            await subject.channel.notification.verify_notification(headers, tampered)
        with pytest.raises(NotificationRejected):
            await subject.channel.notification.verify_notification({}, body)

    async def _resolve(self, subject: ConformanceSubject, request: PaymentRequest, ref: str | None):  # type: ignore[no-untyped-def]
        assert subject.channel.query is not None
        result = await subject.channel.query.query(request, ref)
        for _ in range(subject.max_queries - 1):
            if result.status in FINAL:
                break
            result = await subject.channel.query.query(request, ref)
        return result


CONFORMANCE_MARKER = "conformance"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{CONFORMANCE_MARKER}: a test of the channel conformance suite")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the suite's tests, wherever a channel package subclasses it."""
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, ChannelConformance):
            item.add_marker(CONFORMANCE_MARKER)
