"""`only_its_own_waits`: runs a ledger payment's work so that it may wait only on its unit of work.

The SQLite writer runs that work on its thread with no event loop (gateway/storage/sqlite_uow.py's
`drive`), where a wait on anything else cannot happen and is refused. A SQLAlchemy unit of work
really waits on its connection, so there the rule is held by stepping the work's coroutine: every
wait it yields must come from inside a call of its unit of work (counted by a thin proxy);
a wait from anywhere else (a channel call, a sleep, another connection) is refused with the same
RuntimeError, and the transaction rolls back. Both storages thus run the same works.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from ports.storage import LedgerWork

T = TypeVar("T")

# the repositories of LedgerWork whose calls are the unit of work's own waits
_REPOSITORIES = frozenset({"payments", "ledger", "outbox", "accounts"})


class _Depth:
    """How many calls of the unit of work are under way (0: the work itself is running)."""

    def __init__(self) -> None:
        self.value = 0


class _Counted:
    """Forwards to `target`; while one of its coroutine methods runs, `depth` counts it."""

    def __init__(self, target: object, depth: _Depth) -> None:
        self._target = target
        self._depth = depth

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name in _REPOSITORIES:
            proxy = _Counted(value, self._depth)
            self.__dict__[name] = proxy  # made once per work: later reads skip __getattr__
            return proxy
        if not inspect.iscoroutinefunction(value):  # a plain method or value: nothing to count
            return value
        depth = self._depth

        async def counted(*args: Any, **kwargs: Any) -> Any:
            depth.value += 1
            try:
                return await value(*args, **kwargs)
            finally:
                depth.value -= 1

        self.__dict__[name] = counted
        return counted


class _Yield:
    """Hands what the inner coroutine waits on to the event loop, as the inner `await` would."""

    def __init__(self, waited_on: object) -> None:
        self.waited_on = waited_on

    def __await__(self) -> Generator[Any, None, None]:
        yield self.waited_on


async def only_its_own_waits(work: Callable[[LedgerWork], Awaitable[T]], uow: LedgerWork) -> T:
    """Run `work(uow)`; a wait of the work on anything but `uow` raises RuntimeError."""
    depth = _Depth()
    coro = work(cast("LedgerWork", _Counted(uow, depth)))
    if not isinstance(coro, Coroutine):
        raise TypeError("transaction work must be a coroutine function")
    steps = cast("Coroutine[Any, Any, T]", coro)
    thrown: BaseException | None = None
    while True:
        try:
            waited_on = steps.send(None) if thrown is None else steps.throw(thrown)
        except StopIteration as done:
            return cast(T, done.value)
        thrown = None
        if depth.value == 0:
            steps.close()
            raise RuntimeError(
                f"a ledger payment's work waited on {waited_on!r}: it may only use its unit of work"
            )
        try:
            await _Yield(waited_on)
        except BaseException as exc:  # cancelled while the unit of work waited: pass it in
            thrown = exc
