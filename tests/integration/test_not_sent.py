"""Nothing sent, nothing unknown (issue 10 item 3), through the HTTP API on a database and the
SPDB simulator's signing server: a bank payment whose front machine refuses the connection
never left the gateway, so its bill fails at once with the code and nothing is ever queried;
a payment whose packet left and got no answer (a read timeout) stays unknown for 8804; and one
the bank never received (8804 lists nothing after the request's deadline) is sent again with the
same voucher (issue 10 item 8)."""

# ruff: noqa: F811 - the fixtures gw, sandbox and start_gateway come from test_bills_api by import

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from dependency_injector import providers
from paygate_testkit import SignedClient
from test_bills_api import (  # noqa: F401 - gw, sandbox and start_gateway are fixtures
    CARD_OK,
    Gateway,
    bill_settings,
    gw,
    sandbox,
    start_gateway,
)

from gateway.storage.tables import payments
from plugins.spdb.sandbox import SpdbSandbox
from ports.channels import OutcomeUnknown, PaymentRequest
from ports.conformance import SilentServer, refused_port

GatewayAt = Callable[[str, float], Awaitable[Gateway]]


@pytest.fixture
def gateway_at(aiohttp_client: Any, database_url: str, sandbox: SpdbSandbox) -> GatewayAt:
    """A gateway whose SPDB front machine is at `front_url`; the signing server stays the sandbox's."""

    async def start(front_url: str, timeout: float) -> Gateway:
        from gateway.app import create_app
        from gateway.container import Container

        settings = bill_settings(database_url, sandbox.url, timeout)  # type: ignore[attr-defined]
        spdb = {**settings.channels["spdb"], "front_machine_url": front_url}
        channels = {**settings.channels, "spdb": spdb}
        container = Container()
        container.settings.override(providers.Object(settings.model_copy(update={"channels": channels})))
        client = await aiohttp_client(create_app(container))
        return Gateway(SignedClient(client), container)

    return start


async def _schedule(gw: Gateway, payment_id: str) -> tuple[Any, int]:
    async with gw.container.engine().connect() as conn:
        columns = (payments.c.next_query_at, payments.c.query_attempts)
        row = (await conn.execute(sa.select(*columns).where(payments.c.id == payment_id))).one()
    return row.next_query_at, row.query_attempts


async def test_a_refused_connection_fails_the_bill_at_once_and_is_never_queried(
    gateway_at: GatewayAt, sandbox: SpdbSandbox
) -> None:
    gw = await gateway_at(f"http://127.0.0.1:{refused_port()}/front", 5.0)
    applicant = await gw.applicant(card=CARD_OK)
    status, bill = await gw.loan(applicant, "30.00")
    assert status == 201, bill
    assert (bill["status"], bill["failure"]["code"]) == ("bank_failed", "CONNECT_FAILED"), bill
    # nothing left: the failure is as good as a definite refusal, so the bill may be resent
    assert bill["bank_failure_evidence"] == "definite_refusal"
    status, payment = await gw.api.get(f"/v1/payments/{bill['payment_id']}")
    assert status == 200 and (payment["status"], payment["failure_code"]) == ("failed", "CONNECT_FAILED")
    await gw.poll(3)
    assert await _schedule(gw, bill["payment_id"]) == (None, 0), "a failed payment is never queried"
    status, stuck = await gw.api.get("/ops/payments/stuck")
    assert status == 200 and stuck["payments"] == []
    assert sandbox.payments == {} and await gw.api.balance(applicant) == "0.00"


async def test_a_packet_that_left_without_an_answer_leaves_the_bill_unknown(gateway_at: GatewayAt) -> None:
    async with SilentServer() as front:
        gw = await gateway_at(f"{front.url}/front", 0.5)
        applicant = await gw.applicant(card=CARD_OK)
        status, bill = await gw.loan(applicant, "30.00")
    assert status == 201, bill
    assert front.received.startswith(b"POST /front"), "the packet left the gateway"
    assert (bill["status"], bill["failure"]) == ("bank_unknown", None), bill
    status, payment = await gw.api.get(f"/v1/payments/{bill['payment_id']}")
    assert payment["status"] == "unknown", payment
    next_query_at, _ = await _schedule(gw, bill["payment_id"])
    assert next_query_at is not None, "an unknown outcome is resolved by 8804"


async def test_a_voucher_the_bank_never_received_is_sent_again_with_the_same_number(
    gw: Gateway, sandbox: SpdbSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = gw.container.channels()["spdb"].payment

    async def lost_on_the_way(request: PaymentRequest) -> None:
        raise OutcomeUnknown("READ_TIMEOUT", "connection dropped before the packet reached the bank")

    monkeypatch.setattr(adapter, "submit", lost_on_the_way)
    applicant = await gw.applicant(card=CARD_OK)
    _, bill = await gw.loan(applicant, "25.00")
    assert bill["status"] == "bank_unknown" and sandbox.payments == {}
    monkeypatch.undo()
    # before the request's deadline, an 8804 that lists nothing is only "not listed yet"
    await gw.poll()
    assert (await gw.bill(bill["id"]))["status"] == "bank_unknown" and sandbox.payments == {}
    an_hour_ago = gw.container.clock()() - timedelta(hours=1)
    async with gw.container.engine().begin() as conn:
        await conn.execute(
            payments.update().where(payments.c.id == bill["payment_id"]).values(created_at=an_hour_ago)
        )
    await gw.poll()  # 8804 still lists nothing: the packet provably never arrived; sent again
    assert list(sandbox.payments) == [bill["payment_id"]], "the same voucher, once"
    await gw.settle()
    done = await gw.bill(bill["id"])
    assert (done["status"], done["payment_id"]) == ("completed", bill["payment_id"]), done
    assert await gw.api.balance(applicant) == "25.00"
    assert list(sandbox.payments) == [bill["payment_id"]]
