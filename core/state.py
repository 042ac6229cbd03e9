"""A tiny state-machine helper: every status change is a declared transition or an error."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from core.errors import IllegalTransition

S = TypeVar("S", bound=enum.Enum)


class StateMachine(Generic[S]):
    """Declared legal moves between states; `move()` refuses anything else."""

    def __init__(self, name: str, transitions: Mapping[S, Iterable[S]]) -> None:
        self.name = name
        self._moves: dict[S, frozenset[S]] = {k: frozenset(v) for k, v in transitions.items()}

    def can(self, current: S, target: S) -> bool:
        return target in self._moves.get(current, frozenset())

    def is_final(self, state: S) -> bool:
        return not self._moves.get(state)

    def move(self, current: S, target: S) -> S:
        if not self.can(current, target):
            raise IllegalTransition(
                f"{self.name} cannot go from {current.value} to {target.value}",
                field="status",
            )
        return target
