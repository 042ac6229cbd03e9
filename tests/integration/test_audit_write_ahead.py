"""The audit record of an /ops action is written before the action runs (outcome `started`),
over HTTP on SQLite and PostgreSQL: it is there while the action runs (a crash then leaves it
`started`, never an action without a record); an audit log that cannot be written refuses the
action (503 AUDIT_UNAVAILABLE, nothing done); one that cannot write the outcome loses no answer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from dependency_injector import providers
from paygate_testkit import SignedClient, make_settings

from core.approvals.model import AuditEntry
from core.operators.model import Role
from gateway.keys import CONTAINER


@pytest.fixture
async def api(aiohttp_client: Any, database_url: str) -> SignedClient:
    from gateway.app import create_app
    from gateway.container import Container

    container = Container()
    container.settings.override(providers.Object(make_settings(database_url)))
    return SignedClient(await aiohttp_client(create_app(container)))


def fund_body(amount: str = "25.00") -> dict[str, str]:
    return {"out_request_no": f"fund-{uuid.uuid4().hex[:8]}", "amount": amount, "currency": "CNY"}


async def audit_of(api: SignedClient, account: str) -> list[tuple[str, str]]:
    status, listed = await api.get(f"/ops/audit?subject_id={account}")
    assert status == 200, listed
    return [(e["action"], e["outcome"]) for e in listed["data"]]


class HeldFunding:
    """The account store, whose funding waits until released (the action under way)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def fund(self, *args: Any, **kwargs: Any) -> Any:
        self.started.set()
        await self.release.wait()
        return await self.store.fund(*args, **kwargs)


async def test_the_record_is_there_while_the_action_runs(api: SignedClient) -> None:
    container = api.client.app[CONTAINER]
    account = await api.open_account(owner="Zhao Liu")
    held = HeldFunding(container.accounts())
    container.accounts.override(providers.Object(held))
    funding = asyncio.ensure_future(api.post(f"/ops/accounts/{account}/fund", fund_body()))
    await asyncio.wait_for(held.started.wait(), 10)

    assert await audit_of(api, account) == [("accounts/fund", "started")]
    held.release.set()
    status, answer = await funding
    assert status == 201, answer
    assert await audit_of(api, account) == [("accounts/fund", "ok")]


class BrokenAuditLog:
    def __init__(self, log: Any, *, record_fails: bool, finish_fails: bool) -> None:
        self.log, self.record_fails, self.finish_fails = log, record_fails, finish_fails

    async def record(self, entry: AuditEntry) -> None:
        if self.record_fails:
            raise ConnectionError("audit database away")
        await self.log.record(entry)

    async def finish(self, entry_id: str, outcome: str, note: str | None) -> bool:
        if self.finish_fails:
            raise ConnectionError("audit database away")
        return bool(await self.log.finish(entry_id, outcome, note))


async def test_an_action_that_cannot_be_recorded_is_refused_and_not_done(api: SignedClient) -> None:
    container = api.client.app[CONTAINER]
    account = await api.open_account(owner="Zhao Liu")
    real = container.audit_log()
    broken = BrokenAuditLog(real, record_fails=True, finish_fails=False)
    container.audit_log.override(providers.Object(broken))

    status, answer = await api.post(f"/ops/accounts/{account}/fund", fund_body())

    assert status == 503 and answer["error"]["code"] == "AUDIT_UNAVAILABLE", answer
    assert await api.balance(account) == "0.00"
    container.audit_log.override(providers.Object(real))
    assert await audit_of(api, account) == []


async def test_an_outcome_that_cannot_be_written_loses_no_answer(api: SignedClient) -> None:
    container = api.client.app[CONTAINER]
    account = await api.open_account(owner="Zhao Liu")
    real = container.audit_log()
    broken = BrokenAuditLog(real, record_fails=False, finish_fails=True)
    container.audit_log.override(providers.Object(broken))

    status, answer = await api.post(f"/ops/accounts/{account}/fund", fund_body("7.00"))

    assert status == 201, answer
    assert await api.balance(account) == "7.00"
    container.audit_log.override(providers.Object(real))
    assert await audit_of(api, account) == [("accounts/fund", "started")]


async def test_the_outcome_carries_the_reason_the_body_gave(aiohttp_client: Any, database_url: str) -> None:
    from gateway.app import create_app
    from gateway.container import Container

    container = Container()
    settings = make_settings(database_url, ops={"maker_checker": {"funding": True}})
    container.settings.override(providers.Object(settings))
    api = SignedClient(await aiohttp_client(create_app(container)))
    account = await api.open_account(owner="Zhao Liu")
    status, proposal = await api.post(f"/ops/accounts/{account}/fund", fund_body())
    assert status == 202, proposal

    checker = await api.as_new_operator(container, "fin-2", Role.FINANCE)
    status, rejected = await checker.post(f"/ops/approvals/{proposal['id']}/reject", {"reason": "not ours"})

    assert status == 200, rejected
    status, listed = await api.get(f"/ops/audit?subject_id={proposal['id']}")
    assert [(e["action"], e["outcome"], e["note"]) for e in listed["data"]] == [
        ("approvals/reject", "ok", "reason: not ours")
    ], listed
