"""A third-party channel package, pip-installed, is routed to with no line of the gateway changed;
the conformance suite holds it to the port contracts; unknown outcomes are resolved by query."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from paygate_testkit import SignedClient, make_settings

from core.money import Money

PACKAGE = Path(__file__).parents[1] / "thirdparty" / "paygate_echo_channel"
ECHO_SECRET = "echo-test-secret"


@pytest.fixture(scope="module")
def echo_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`pip install` the package into a private target directory and put it on sys.path."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(PACKAGE),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith("paygate_echo_channel")]:
        del sys.modules[name]


def echo_settings(database_url: str) -> Any:
    return make_settings(
        database_url,
        channels={"echo": {"secret": ECHO_SECRET, "query_schedule_seconds": [0, 0]}},
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {
                    "name": "echo payments",
                    "pay_method": "echo",
                    "channel": "echo",
                    "currency": "CNY",
                },
            ]
        },
    )


@pytest.fixture
async def echo_api(echo_installed: Path, aiohttp_client: Any, database_url: str) -> SignedClient:
    from gateway.app import create_app
    from gateway.container import Container

    container = Container()
    container.settings.override(providers.Object(echo_settings(database_url)))
    client = await aiohttp_client(create_app(container))
    return SignedClient(client)


def container_of(api: SignedClient) -> Any:
    from gateway.keys import CONTAINER

    return api.client.app[CONTAINER]


async def test_installed_plugin_appears_among_channels(echo_api: SignedClient) -> None:
    channels = container_of(echo_api).channels()
    assert {"internal_transfer", "echo"} <= set(channels)
    assert channels["echo"].ports == {"payment", "query", "notification"}


async def test_payment_is_routed_to_the_third_party_channel(echo_api: SignedClient) -> None:
    status, payment = await echo_api.pay(pay_method="echo", amount="10.00", payee_account="someone@echo")
    assert status == 201, payment
    assert (payment["channel"], payment["status"]) == ("echo", "succeeded")
    status, explained = await echo_api.post(
        "/v1/routes/explain", {"pay_method": "echo", "amount": "10.00", "currency": "CNY"}
    )
    assert status == 200 and explained["channel"] == "echo"
    assert explained["rule"]["label"] == "echo payments" and explained["rule"]["index"] == 1


async def test_channel_refusal_fails_the_payment_with_its_code(echo_api: SignedClient) -> None:
    status, payment = await echo_api.pay(pay_method="echo", amount="10.02", payee_account="x")
    assert status == 201
    assert (payment["status"], payment["failure_code"]) == ("failed", "DECLINED")


async def test_request_the_channel_did_not_send_fails_and_is_never_queried(echo_api: SignedClient) -> None:
    from gateway.workers.query_poller import QueryPoller

    container = container_of(echo_api)
    status, payment = await echo_api.pay(pay_method="echo", amount="10.05", payee_account="x")
    assert status == 201, payment
    assert (payment["status"], payment["failure_code"]) == ("failed", "ECHO_BAD_REQUEST")
    assert container.channels()["echo"].payment.submits == 0
    poller = QueryPoller(container.engine(), container.payments(), batch=10)
    assert await poller.run_once() == 0


async def test_unknown_outcome_is_resolved_by_the_poller_not_resent(echo_api: SignedClient) -> None:
    from gateway.workers.query_poller import QueryPoller

    container = container_of(echo_api)
    status, payment = await echo_api.pay(pay_method="echo", amount="10.01", payee_account="x")
    assert status == 201 and payment["status"] == "unknown"
    poller = QueryPoller(container.engine(), container.payments(), batch=10)
    assert await poller.run_once() == 1
    _, after = await echo_api.get(f"/v1/payments/{payment['id']}")
    assert after["status"] == "succeeded"
    assert container.channels()["echo"].payment.submits == 1, "resolved by query, never re-sent"
    _, flow = await echo_api.get(f"/v1/payments/{payment['id']}/flow")
    assert [r["node"] for r in flow["flow"]][-3:] == [
        "channel_answer",
        "query_answer",
        "final_state",
    ]


async def test_payment_that_stays_unknown_is_escalated_never_failed(echo_api: SignedClient) -> None:
    from gateway.workers.query_poller import QueryPoller

    container = container_of(echo_api)
    _, payment = await echo_api.pay(pay_method="echo", amount="10.03", payee_account="x")
    poller = QueryPoller(container.engine(), container.payments(), batch=10)
    for _ in range(3):
        await poller.run_once()
    _, after = await echo_api.get(f"/v1/payments/{payment['id']}")
    assert after["status"] == "unknown"
    status, stuck = await echo_api.get("/ops/payments/stuck")
    assert [(p["id"], p["escalated"]) for p in stuck["payments"]] == [(payment["id"], True)]
    _, flow = await echo_api.get(f"/v1/payments/{payment['id']}/flow")
    assert "escalated" in [r["node"] for r in flow["flow"]]


async def test_verified_callback_settles_and_duplicates_are_harmless(
    echo_api: SignedClient,
) -> None:
    _, payment = await echo_api.pay(pay_method="echo", amount="10.04", payee_account="x")
    assert payment["status"] == "processing"
    body = json.dumps({"payment_id": payment["id"], "status": "succeeded", "ref": "r1"}).encode()
    signature = hmac.new(ECHO_SECRET.encode(), body, hashlib.sha256).hexdigest()
    for _ in range(2):
        response = await echo_api.client.post(
            "/callbacks/echo", data=body, headers={"X-Echo-Signature": signature}
        )
        assert response.status == 200 and await response.text() == "ok"
    _, after = await echo_api.get(f"/v1/payments/{payment['id']}")
    assert after["status"] == "succeeded"
    status, dead = await echo_api.get("/ops/notifications?status=pending")
    assert [n["subject_id"] for n in dead["data"]].count(payment["id"]) == 1


async def test_forged_callback_changes_nothing(echo_api: SignedClient) -> None:
    _, payment = await echo_api.pay(pay_method="echo", amount="10.04", payee_account="x")
    body = json.dumps({"payment_id": payment["id"], "status": "failed"}).encode()
    response = await echo_api.client.post(
        "/callbacks/echo", data=body, headers={"X-Echo-Signature": "f" * 64}
    )
    assert response.status == 400
    _, after = await echo_api.get(f"/v1/payments/{payment['id']}")
    assert after["status"] == "processing"


def test_the_package_runs_the_conformance_suite_by_its_plugin_name(echo_installed: Path) -> None:
    """The echo package's own tests load `paygate_conformance` (the pytest11 entry point) by
    name, in a pytest of their own rooted in the package, and the whole suite passes there."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(echo_installed), *sys.path])}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(PACKAGE),
            "--confcutdir",
            str(PACKAGE),
            "-c",
            str(PACKAGE / "pyproject.toml"),
            "-m",
            "conformance",
            "-rs",
            str(PACKAGE / "tests"),
        ],
        cwd=PACKAGE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 7, summary


async def test_payment_saved_but_never_answered_is_queried_not_forgotten(echo_api: SignedClient) -> None:
    """A crash between saving a payment and the channel's answer leaves it `created`; the poller
    still finds it once the grace period is over and asks the channel."""
    from datetime import timedelta

    from gateway.storage.rows import CREATED_GRACE
    from gateway.workers.query_poller import QueryPoller

    container = container_of(echo_api)
    service = container.payments()
    channel = container.channels()["echo"]

    class Crash(Exception):
        pass

    async def crash_before_answer(request: Any) -> Any:
        await channel.payment.__class__.submit(channel.payment, request)  # the channel did pay
        raise Crash

    original = service.channels["echo"].payment.submit
    service.channels["echo"].payment.submit = crash_before_answer
    try:
        _, payment = await echo_api.pay(pay_method="echo", amount="10.00", payee_account="x")
    finally:
        service.channels["echo"].payment.submit = original
    # the crash is seen as an unknown outcome here; simulate the process dying before that write
    async with container.uow() as uow:
        from gateway.storage import tables as t

        await uow.conn.execute(
            t.payments.update()
            .where(t.payments.c.id == payment["id"])
            .values(status="created", next_query_at=service.clock() + CREATED_GRACE)
        )
        await uow.commit()
    later = service.clock() + CREATED_GRACE + timedelta(seconds=1)
    poller = QueryPoller(container.engine(), service, batch=10, clock=lambda: later)
    assert await poller.run_once() == 1
    _, after = await echo_api.get(f"/v1/payments/{payment['id']}")
    assert after["status"] == "succeeded"


async def test_a_saved_payment_carries_a_query_deadline(echo_api: SignedClient) -> None:
    import sqlalchemy as sa

    from core.ids import utcnow
    from core.payments.model import Payment, PaymentStatus
    from gateway.storage import tables as t
    from gateway.storage.rows import CREATED_GRACE

    container = container_of(echo_api)
    now = utcnow()
    payment = Payment(
        "pay_deadline",
        "shop",
        "r-deadline",
        "h",
        "echo",
        "echo",
        Money.parse("1.00", "CNY"),
        None,
        "x",
        PaymentStatus.CREATED,
        now,
        now,
    )
    async with container.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    async with container.engine().connect() as conn:
        deadline = (
            await conn.execute(sa.select(t.payments.c.next_query_at).where(t.payments.c.id == "pay_deadline"))
        ).scalar_one()
    assert deadline == now + CREATED_GRACE
