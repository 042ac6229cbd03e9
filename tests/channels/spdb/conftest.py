"""SPDB channel fixtures: the client replaying cassettes recorded from the in-process sandbox.

Replay is the default (vcrpy record mode "none": an unrecorded request fails the test).
`PAYGATE_RECORD_CASSETTES=1` re-records every cassette against a sandbox started here on
127.0.0.1. Packet ids and timestamps come from a fixed clock and a seeded generator so a
replayed answer echoes the packet id the client expects; PKCS#7 signatures still differ per
run, so requests are matched on method, path, Content-Type, transCode and elecChequeNo only.
"""

from __future__ import annotations

import base64
import binascii
import os
import random
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import vcr
from aiohttp.test_utils import TestServer

from plugins.sandbox_store.store import SandboxStore
from plugins.spdb.client import SpdbClient
from plugins.spdb.packet import BEIJING, PacketIdGenerator
from plugins.spdb.sandbox import SpdbSandbox
from plugins.spdb.sandbox_scenarios import SandboxConfig, SandboxIdentities
from plugins.spdb.settings import SpdbSettings

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "spdb"
RECORD_FLAG = "PAYGATE_RECORD_CASSETTES"


RECORDING = os.environ.get(RECORD_FLAG) == "1"
NOW = datetime(2024, 5, 20, 10, 30, tzinfo=BEIJING)
PROCESSING_POLLS = 2
NOWHERE = "http://127.0.0.1:9"  # replay never connects; the matcher ignores host and port

_KEY = re.compile(rb"<(transCode|elecChequeNo)>([^<]*)</\1>")
_SIGNATURE = re.compile(rb"<signature>([^<]*)</signature>")
_WHITESPACE = re.compile(rb"\s+")


def packet_keys(body: bytes | str | None) -> tuple[str | None, str | None]:
    """transCode and elecChequeNo of a request body wherever they sit: in a packet head, in a
    plaintext body sent for signing, or inside base64 SignedData (its content is embedded in
    clear) sent to the front machine or for verification. Bodies are GBK bytes."""
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    found: dict[bytes, bytes] = {}
    for tag, value in _KEY.findall(raw):
        found.setdefault(tag, value)
    if b"elecChequeNo" not in found:
        blob = _SIGNATURE.search(raw)
        try:
            content = base64.b64decode(_WHITESPACE.sub(b"", blob.group(1) if blob else raw), validate=True)
        except (binascii.Error, ValueError):
            content = b""
        for tag, value in _KEY.findall(content):
            found.setdefault(tag, value)

    def text(tag: bytes) -> str | None:
        value = found.get(tag)
        return None if value is None else value.decode("gbk", errors="replace")

    return text(b"transCode"), text(b"elecChequeNo")


def spdb_packet(r1: Any, r2: Any) -> None:
    """vcrpy matcher: same Content-Type, transCode and elecChequeNo."""
    type1 = (r1.headers.get("Content-Type") or "").lower()
    type2 = (r2.headers.get("Content-Type") or "").lower()
    assert type1 == type2, f"{type1} != {type2}"
    keys1, keys2 = packet_keys(r1.body), packet_keys(r2.body)
    assert keys1 == keys2, f"{keys1} != {keys2}"


SPDB_VCR = vcr.VCR(cassette_library_dir=str(CASSETTES), match_on=["method", "path", "spdb_packet"])
SPDB_VCR.register_matcher("spdb_packet", spdb_packet)


def sandbox_settings(base: str, **overrides: Any) -> SpdbSettings:
    urls = {"front_machine_url": f"{base}/front", "signing_server_url": f"{base}/signer"}
    return SpdbSettings(**{**urls, **overrides})


@pytest.fixture(scope="session")
def sandbox_identities() -> SandboxIdentities:
    return SandboxIdentities.generate()


@pytest.fixture
async def spdb(request: pytest.FixtureRequest) -> AsyncIterator[SpdbClient]:
    """A client whose HTTP traffic replays `cassettes/spdb/<test name>.yaml`."""
    name = request.node.name
    cassette = CASSETTES / f"{name}.yaml"
    async with AsyncExitStack() as stack:
        if RECORDING:
            cassette.unlink(missing_ok=True)
            sandbox = SpdbSandbox(
                SandboxConfig(processing_polls=PROCESSING_POLLS),
                clock=lambda: NOW,
                identities=request.getfixturevalue("sandbox_identities"),
            )
            server = TestServer(sandbox.create_app(), host="127.0.0.1")
            await server.start_server()
            stack.push_async_callback(server.close)
            base, mode = str(server.make_url("")).rstrip("/"), "all"
        else:
            if not cassette.exists():
                pytest.fail(f"no cassette {cassette}: record with PAYGATE_RECORD_CASSETTES=1")
            base, mode = NOWHERE, "none"
        stack.enter_context(SPDB_VCR.use_cassette(cassette.name, record_mode=mode))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        ids = PacketIdGenerator(lambda: NOW, random.Random(name))
        yield SpdbClient(
            sandbox_settings(base, timeout_seconds=5), session, packet_ids=ids, clock=lambda: NOW
        )


@dataclass
class LiveBank:
    """A client talking to a sandbox running in this process (no cassette)."""

    client: SpdbClient
    sandbox: SpdbSandbox
    base: str
    session: aiohttp.ClientSession


LiveBankFactory = Callable[..., Awaitable[LiveBank]]


@pytest.fixture
async def live_bank(sandbox_identities: SandboxIdentities) -> AsyncIterator[LiveBankFactory]:
    async with AsyncExitStack() as stack:

        async def start(
            config: SandboxConfig | None = None, store: SandboxStore | None = None, **settings: Any
        ) -> LiveBank:
            sandbox = SpdbSandbox(config, identities=sandbox_identities, store=store)
            server = TestServer(sandbox.create_app(), host="127.0.0.1")
            await server.start_server()
            stack.push_async_callback(server.close)
            session = await stack.enter_async_context(aiohttp.ClientSession())
            base = str(server.make_url("")).rstrip("/")
            client = SpdbClient(sandbox_settings(base, **settings), session)
            return LiveBank(client, sandbox, base, session)

        yield start


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
