"""Which errors mean the database could not answer now (503 DATABASE_UNAVAILABLE, repeat the
request), and which are bugs (500): gateway/http/errors.py `database_unavailable`."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from gateway.http.errors import database_unavailable


def raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.LockNotAvailableError("could not obtain lock"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InterfaceError("cannot perform operation: connection is closed"),
        # a pooled connection checked out just after the server said goodbye, before it closed
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        raised_from(
            sa_exc.DBAPIError("SELECT 1", {}, Exception()),
            asyncpg.exceptions.InternalClientError(
                "cannot switch to state 13; another operation (2) is in progress"
            ),
        ),
        sa_exc.TimeoutError("QueuePool limit of size 30 overflow 0 reached"),
        sqlite3.OperationalError("database is locked"),
        raised_from(
            sa_exc.OperationalError("connect", {}, Exception()), ConnectionRefusedError(111, "refused")
        ),
        raised_from(
            sa_exc.DBAPIError("SELECT 1", {}, Exception(), connection_invalidated=True), ValueError()
        ),
    ],
    ids=repr,
)
def test_a_database_that_cannot_answer_now(error: BaseException) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "a channel refused"),  # not the database's: the use case's
        TimeoutError(),
        ValueError("a bug"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.InterfaceError("cannot use Connection.transaction() in a manually started transaction"),
        # one connection used twice at once by the gateway's own code
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (12) is in progress"
        ),
        sqlite3.OperationalError("no such table: payments"),
        raised_from(sa_exc.ProgrammingError("SELECT", {}, Exception()), ValueError()),
    ],
    ids=repr,
)
def test_a_bug_stays_a_500(error: BaseException) -> None:
    assert not database_unavailable(error)
