"""The embedded SQLite database's single writer: one connection, group commit.

SQLite lets one connection write at a time and makes every commit durable with an fsync
(`synchronous=FULL`). Committing each request alone caps the gateway at the disk's fsync rate
and, through aiosqlite, costs a thread hand-off per statement. Instead, every write of this
process goes through one plain `sqlite3` connection:

* `run(fn)` queues a job, a function of that connection. The queued jobs (up to `max_batch`)
  run together in one transaction, each inside its own SAVEPOINT, and are committed once. A job
  that raises (a duplicate key, insufficient funds ...) rolls back its own savepoint only, and
  its caller gets the exception. Nobody hears of success before the COMMIT that made their job
  durable has returned; if that COMMIT fails, every job of the batch gets the error.
* `turn()` lends the database to async code that writes through SQLAlchemy (every write that is
  not on a hot path): the writer waits until it has committed what it has, hands over, and
  starts again when the block is done. Writers of this process therefore never fight over
  SQLite's lock.

Where the work runs: the statements of a batch run on the event loop's thread, one batch at a
time (a batch of 30 transfers takes a few milliseconds; rows are written into SQLite's page cache
and WAL, which needs no fsync); only the COMMIT, which waits for the disk, runs on a thread of its
own, and the loop serves requests meanwhile and queues the next batch. Running the statements on
a writer thread instead was measured slower (bench/transfers.py: ~1,100 against ~1,500
transfers/s): every sqlite3 call hands the GIL back and forth between that thread and the loop.
Jobs must therefore be short and must only use their connection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("paygate.sqlite_writer")


class WriterUnavailable(RuntimeError):
    """The writer is closed, or the database refused the batch (disk full, I/O error ...)."""


@dataclass(slots=True, eq=False)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    single_statement: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass(slots=True, eq=False)
class _Turn:
    future: asyncio.Future[None]


class SqliteWriter:
    def __init__(self, path: str, *, synchronous: str = "FULL", max_batch: int = 256) -> None:
        if not path or path == ":memory:":
            raise ValueError("the SQLite writer needs a database file, not an in-memory database")
        self.path = path
        self.synchronous = synchronous
        self.max_batch = max_batch
        self._conn: sqlite3.Connection | None = None
        self._queue: collections.deque[_Job | _Turn] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy = False  # a batch is open or committing, or a turn is lent
        self._scheduled = False
        self._closed = False
        self._committer: ThreadPoolExecutor | None = None
        # how well commits are shared (tests, benchmark)
        self.batches = 0
        self.jobs = 0

    # -- callers ------------------------------------------------------------------------------
    async def run(self, fn: Callable[[sqlite3.Connection], T], *, single_statement: bool = False) -> T:
        """Run `fn(connection)` in the next group commit; its result once that commit is durable.

        `single_statement`: `fn` executes one statement, which SQLite applies whole or not at
        all, so it needs no savepoint of its own.
        """
        job = _Job(fn, self._enqueue_future(), single_statement)
        self._queue.append(job)
        self._kick()
        return await job.future  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Exclusive use of the database for the block (no batch is open meanwhile)."""
        turn = _Turn(self._enqueue_future())
        self._queue.append(turn)
        self._kick()
        try:
            await turn.future
        except BaseException:
            if turn.future.done() and not turn.future.cancelled():
                self._done()  # granted just as we were cancelled
            raise
        try:
            yield
        finally:
            self._done()

    async def aclose(self) -> None:
        """Finish what is queued, then close the connection (idempotent)."""
        while self._busy or self._queue:
            await asyncio.sleep(0.01)
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None

    def _enqueue_future(self) -> asyncio.Future[Any]:
        if self._closed:
            raise WriterUnavailable("the SQLite writer is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._busy or self._queue:
                raise RuntimeError("the SQLite writer is in use by another event loop")
            self._loop = loop  # a new loop (tests): nothing of the old one is pending
        return loop.create_future()

    # -- the batches --------------------------------------------------------------------------
    def _kick(self) -> None:
        if not self._busy and not self._scheduled and self._queue and self._loop is not None:
            self._scheduled = True
            # on the next turn of the loop: every request handled until then joins the batch
            self._loop.call_soon(self._next)

    def _done(self) -> None:
        self._busy = False
        self._kick()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
        return self._conn

    def _next(self) -> None:
        self._scheduled = False
        if self._busy or not self._queue:
            return
        head = self._queue[0]
        if isinstance(head, _Turn):
            self._queue.popleft()
            if head.future.done():  # its waiter was cancelled
                self._kick()
                return
            self._busy = True
            head.future.set_result(None)
            return
        batch: list[_Job] = []
        while self._queue and isinstance(self._queue[0], _Job) and len(batch) < self.max_batch:
            batch.append(self._queue.popleft())  # type: ignore[arg-type]
        self._busy = True
        try:
            conn = self._connection()
            self._execute(conn, batch)
        except BaseException as exc:  # nothing of the batch is durable: all of it failed
            self._fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        assert self._loop is not None
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        committing = self._loop.run_in_executor(self._committer, conn.execute, "COMMIT")
        committing.add_done_callback(lambda f: self._committed(batch, f))

    @staticmethod
    def _execute(conn: sqlite3.Connection, batch: list[_Job]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for job in batch:
            if job.future.cancelled():
                continue  # its caller is gone before anything was written: nothing to do
            if not job.single_statement:
                conn.execute("SAVEPOINT job")
            try:
                job.result = job.fn(conn)
            except Exception as exc:  # noqa: BLE001 - the job's own failure, handed to its caller
                job.error = exc
                if not conn.in_transaction:
                    # SQLite itself rolled the whole transaction back (I/O error, disk full):
                    # the earlier jobs' writes are gone too
                    raise WriterUnavailable(f"the database rolled the batch back: {exc}") from exc
                if not job.single_statement:
                    conn.execute("ROLLBACK TO job")
            if not job.single_statement:
                conn.execute("RELEASE job")

    def _committed(self, batch: list[_Job], committing: asyncio.Future[Any]) -> None:
        if committing.cancelled():
            exc: BaseException | None = WriterUnavailable("the commit was cancelled")
        else:
            exc = committing.exception()
        if exc is not None:
            self._fail(batch, exc)
            return
        self.batches += 1
        self.jobs += len(batch)
        for job in batch:
            if job.future.done():  # the caller gave up waiting; the job is committed all the same
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)
        self._done()

    def _fail(self, batch: list[_Job], exc: BaseException) -> None:
        log.error("SQLite group commit failed (%d jobs): %s", len(batch), exc)
        conn = self._conn
        if conn is not None and conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        error = exc if isinstance(exc, WriterUnavailable) else WriterUnavailable(str(exc))
        for job in batch:
            if not job.future.done():
                job.future.set_exception(error)
        self._done()
