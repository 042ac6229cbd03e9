"""The embedded SQLite database's single writer: one thread, one connection, group commit.

SQLite lets one connection write at a time and makes every commit durable with an fsync
(`synchronous=FULL`). Committing each request alone caps the gateway at the disk's fsync rate
and, through aiosqlite, costs a thread hand-off per statement. Instead, every write of this
process goes to one thread that owns one plain `sqlite3` connection:

* `run(fn)` queues a job, a function of that connection. The thread takes all queued jobs
  (up to `max_batch`), runs them in one transaction, each inside its own SAVEPOINT, and commits
  once. A job that raises (a duplicate key, insufficient funds ...) rolls back its own savepoint
  only, and its caller gets the exception. Nobody hears of success before the COMMIT that made
  their job durable has returned; if that COMMIT fails, every job of the batch gets the error.
* `turn()` lends the database to async code that writes through SQLAlchemy (every write that is
  not on a hot path): the thread commits what it has, hands over, and waits until the async
  writer is done. Writers of this process therefore never fight over SQLite's lock.

Jobs run on the writer's thread, not the event loop's: they must only use their connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("paygate.sqlite_writer")


class WriterUnavailable(RuntimeError):
    """The writer is stopped, or the database refused the batch (disk full, I/O error ...)."""


@dataclass(slots=True, eq=False)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    result: Any = None
    error: BaseException | None = None


@dataclass(slots=True, eq=False)
class _Turn:
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop
    released: threading.Event = field(default_factory=threading.Event)


_STOP = object()


def _resolve(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():  # the caller gave up waiting; the job ran all the same
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


def _hand_over(turn: _Turn) -> None:
    if turn.future.done():  # the waiter was cancelled: nobody will use the turn
        turn.released.set()
    else:
        turn.future.set_result(None)


class SqliteWriter:
    def __init__(self, path: str, *, synchronous: str = "FULL", max_batch: int = 512) -> None:
        if not path or path == ":memory:":
            raise ValueError("the SQLite writer needs a database file, not an in-memory database")
        self.path = path
        self.synchronous = synchronous
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        # counters for tests and the benchmark: how well commits are shared
        self.batches = 0
        self.jobs = 0

    # -- the event loop's side ---------------------------------------------------------------
    def _submit(self, item: _Job | _Turn) -> None:
        with self._lock:
            if self._stopped:
                raise WriterUnavailable("the SQLite writer is stopped")
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name="sqlite-writer", daemon=True)
                self._thread.start()
            self._queue.put(item)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` in the next group commit; its result once that commit is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_Job(fn, future, loop))
        return await future

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Exclusive use of the database for the block (no batch is open meanwhile)."""
        loop = asyncio.get_running_loop()
        turn = _Turn(loop.create_future(), loop)
        self._submit(turn)
        try:
            await turn.future
        except BaseException:
            if turn.future.done() and not turn.future.cancelled():
                turn.released.set()  # granted just as we were cancelled
            raise
        try:
            yield
        finally:
            turn.released.set()

    def close(self) -> None:
        """Finish the queued jobs and stop the thread (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join()

    # -- the writer thread -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _main(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            log.exception("cannot open the SQLite database %s", self.path)
            self._fail_forever(exc)
            return
        try:
            stop = False
            while not stop:
                item = self._queue.get()
                batch: list[_Job] = []
                turn: _Turn | None = None
                while True:
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, _Turn):
                        turn = item
                        break
                    batch.append(item)
                    if len(batch) >= self.max_batch:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._commit(conn, batch)
                if turn is not None:
                    self._grant(turn)
        finally:
            conn.close()

    def _fail_forever(self, exc: BaseException) -> None:
        with self._lock:
            self._stopped = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job):
                item.error = WriterUnavailable(f"the SQLite database cannot be opened: {exc}")
                self._deliver([item])
            elif isinstance(item, _Turn):
                self._grant(item)

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    job.result = job.fn(conn)
                except Exception as exc:  # noqa: BLE001 - the job's own failure, handed to its caller
                    job.error = exc
                    if not conn.in_transaction:
                        # SQLite itself rolled the whole transaction back (I/O error, disk full):
                        # the earlier jobs' writes are gone too
                        raise WriterUnavailable(f"the database rolled the batch back: {exc}") from exc
                    conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - nothing of the batch is durable: all of it failed
            log.exception("SQLite group commit failed (%d jobs)", len(batch))
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = exc if isinstance(exc, WriterUnavailable) else WriterUnavailable(str(exc))
            for job in batch:
                job.result, job.error = None, error
        self.batches += 1
        self.jobs += len(batch)
        self._deliver(batch)

    @staticmethod
    def _deliver(batch: list[_Job]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in batch:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting
                loop.call_soon_threadsafe(_resolve, jobs)

    @staticmethod
    def _grant(turn: _Turn) -> None:
        try:
            turn.loop.call_soon_threadsafe(_hand_over, turn)
        except RuntimeError:
            return  # the loop is closed
        while not turn.released.wait(1.0):
            if turn.loop.is_closed():
                return  # its holder is gone with its loop
