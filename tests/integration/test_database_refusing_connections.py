"""A PostgreSQL server that is down for a moment (a restart, a failover): while it refuses new
connections, every request that needs one is a 503 DATABASE_UNAVAILABLE (repeat the request),
never a 500, on every path to the database (the signed requests' nonce claims and payments over
the pool's raw driver connections, the others through SQLAlchemy); once it is back, the repeat
of the same request pays once.

The gateway reaches the database through a TCP forwarder of the test's own, which plays the
restart: it closes every connection it carries and stops listening (connections refused), then
listens again on the same port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from paygate_testkit import SignedClient, free_port, make_settings
from sqlalchemy.engine import make_url


class Forwarder:
    """127.0.0.1:`port` -> the database server, until `stop`."""

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port, self.upstream = port, upstream
        self.server: asyncio.Server | None = None
        self.carried: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._carry, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.carried):
            writer.close()
        await self.server.wait_closed()
        self.server = None

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.carried |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.carried -= {writer, up_writer}


@pytest.fixture
async def forwarder(database_url: str) -> AsyncIterator[Forwarder]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a database server that refuses connections: PostgreSQL")
    url = make_url(database_url)
    forwarder = Forwarder(free_port(), (url.host or "127.0.0.1", url.port or 5432))
    await forwarder.start()
    yield forwarder
    if forwarder.server is not None:
        await forwarder.stop()


@pytest.fixture
def settings(database_url: str, forwarder: Forwarder) -> Any:
    url = make_url(database_url).set(host="127.0.0.1", port=forwarder.port)
    return make_settings(url.render_as_string(hide_password=False))


async def test_a_server_refusing_connections_is_a_503_and_the_repeat_pays_once(
    api: SignedClient, forwarder: Forwarder
) -> None:
    payer, payee = await api.open_account(), await api.open_account()
    await api.fund(payer, "10.00")

    await forwarder.stop()  # the server goes away: its connections end, new ones are refused
    await asyncio.sleep(0.05)
    for status, body in (
        await api.pay(out_request_no="while-down", amount="2.50", payer_account=payer, payee_account=payee),
        await api.get(f"/v1/accounts/{payer}"),
        await api.get("/ops/ledger/check"),
        await api.post(
            f"/ops/accounts/{payee}/fund",
            {"out_request_no": "fund-down", "amount": "1.00", "currency": "CNY"},
        ),
    ):
        assert (status, body["error"]["code"]) == (503, "DATABASE_UNAVAILABLE"), body

    await forwarder.start()  # back on the same address
    status, paid = await api.pay(
        out_request_no="while-down", amount="2.50", payer_account=payer, payee_account=payee
    )
    assert (status, paid["status"]) == (201, "succeeded"), paid
    assert (await api.balance(payer), await api.balance(payee)) == ("7.50", "2.50")
