"""`AfterCommitActions`: what a unit of work runs once its transaction is durable.

An effect outside the database that states a fact of the transaction (the SMS telling a payee
the payout is paid) must wait until that fact is committed: sent from inside the transaction it
would hold the transaction (its row locks; on SQLite the single writer's turn) open while it
waits, and would state a fact that a failed commit or a crash before the commit never made true.
Each unit of work keeps one of these: `add` while the transaction runs, `committed` when it
commits, `rolled_back` when it rolls back, and `run` once the transaction is over (its
connection closed, its writer's turn released).

At most once: an action runs after its commit, or never (a rollback drops it; a crash between
the commit and the action loses it). An action's own failure is logged and swallowed: the
transaction is committed whatever an action does. Actions run one after another, in the order
they were added, in the task that left the unit of work: each must bound its own time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("paygate.storage")

AfterCommit = Callable[[], Awaitable[None]]


class AfterCommitActions:
    """The actions of one unit of work: pending until its commit, then due until `run`."""

    def __init__(self) -> None:
        self._pending: list[AfterCommit] = []
        self._due: list[AfterCommit] = []

    def add(self, action: AfterCommit) -> None:
        """Run `action` after the current transaction commits; never if it rolls back."""
        self._pending.append(action)

    def committed(self) -> None:
        """The transaction committed: its actions are due."""
        self._due.extend(self._pending)
        self._pending.clear()

    def rolled_back(self) -> None:
        """The transaction rolled back: the actions it added are dropped."""
        self._pending.clear()

    async def run(self) -> None:
        """Run the due actions (the pending ones, never committed, are dropped); a failing
        action is logged and the next one runs."""
        due, self._due = self._due, []
        self._pending.clear()
        for action in due:
            try:
                await action()
            except Exception:  # the transaction is committed: an action cannot undo it
                log.exception("an action after a commit failed")
