"""`container.operators` (OperatorService) on every database: passwords, tokens, management."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from core.errors import Conflict, InvalidArgument, NotFound
from core.operators.model import Role
from gateway.operators import DEMO_OPERATORS, OperatorService
from gateway.storage.operator_tables import operator_tokens, operators


@pytest.fixture
async def service(container: Any) -> AsyncIterator[OperatorService]:
    yield container.operators()
    await container.engine().dispose()
    writer = container.sqlite_writer()
    if writer is not None:
        await writer.aclose()


async def test_a_password_authenticates_its_operator_only(service: OperatorService) -> None:
    added = await service.add("li", {Role.FINANCE}, "correct horse", "Li Na")
    found = await service.authenticate_password("li", "correct horse")
    assert found == added and found.display_name == "Li Na"
    assert await service.authenticate_password("li", "wrong horse!") is None
    assert await service.authenticate_password("nobody", "correct horse") is None


async def test_passwords_are_stored_as_argon2_hashes(service: OperatorService, container: Any) -> None:
    await service.add("li", {Role.FINANCE}, "correct horse")
    async with container.engine().connect() as conn:
        stored = await conn.scalar(sa.select(operators.c.password_hash))
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


async def test_a_reset_password_replaces_the_old_one(service: OperatorService) -> None:
    await service.add("li", {Role.FINANCE}, "first password")
    await service.reset("li", "second password")
    assert await service.authenticate_password("li", "first password") is None
    assert await service.authenticate_password("li", "second password") is not None


async def test_an_issued_token_authenticates_and_only_its_hash_is_stored(
    service: OperatorService, container: Any
) -> None:
    await service.add("li", {Role.OPERATOR, Role.FINANCE}, "correct horse")
    issued = await service.issue_token("li")
    assert issued.token.startswith("pgo_") and issued.token.startswith(issued.prefix)
    found = await service.authenticate_token(issued.token)
    assert found is not None and (found.login, found.roles) == ("li", {Role.OPERATOR, Role.FINANCE})
    assert await service.authenticate_token(issued.token + "x") is None
    assert await service.authenticate_token("") is None
    async with container.engine().connect() as conn:
        rows = (await conn.execute(sa.select(operator_tokens))).all()
    assert [r.prefix for r in rows] == [issued.prefix] and issued.token not in str(rows)
    [view] = await service.tokens("li")
    assert (view.prefix, view.revoked) == (issued.prefix, False)


async def test_a_disabled_operator_authenticates_no_more(service: OperatorService) -> None:
    await service.add("li", {Role.FINANCE}, "correct horse")
    token = (await service.issue_token("li")).token
    disabled = await service.disable("li")
    assert disabled.disabled
    assert await service.authenticate_password("li", "correct horse") is None
    assert await service.authenticate_token(token) is None
    assert [t.revoked for t in await service.tokens("li")] == [True]
    with pytest.raises(InvalidArgument, match="disabled"):
        await service.issue_token("li")


async def test_refusals(service: OperatorService) -> None:
    await service.add("li", {Role.FINANCE}, "correct horse")
    with pytest.raises(Conflict, match="exists"):
        await service.add("li", {Role.VIEWER}, "another password")
    with pytest.raises(InvalidArgument, match="at least 8"):
        await service.add("wang", {Role.VIEWER}, "short")
    with pytest.raises(InvalidArgument, match="at least one role"):
        await service.add("wang", set(), "long enough")
    with pytest.raises(InvalidArgument, match="login"):
        await service.add("Wang Wei", {Role.VIEWER}, "long enough")
    with pytest.raises(NotFound):
        await service.disable("nobody")
    with pytest.raises(NotFound):
        await service.issue_token("nobody")
    assert await service.get("nobody") is None


async def test_demo_operators_are_created_once_with_their_fixed_tokens(service: OperatorService) -> None:
    assert await service.ensure_demo() == [d.login for d in DEMO_OPERATORS]
    assert await service.ensure_demo() == []
    for demo in DEMO_OPERATORS:
        by_token = await service.authenticate_token(demo.token)
        by_password = await service.authenticate_password(demo.login, demo.password)
        assert by_token is not None and by_token == by_password and by_token.roles == {demo.role}
        assert len(await service.tokens(demo.login)) == 1


async def test_a_disabled_demo_operator_stays_disabled(service: OperatorService) -> None:
    await service.ensure_demo()
    await service.disable("demo-admin")
    await service.ensure_demo()
    assert await service.authenticate_token("demo-admin-token-change-me") is None
