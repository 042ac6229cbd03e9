"""The login rate limit: so many failed logins per login name and per client address within a
window (settings `console.login_failures`, `console.login_window_seconds`), then 429.

Only keys with a failure inside the window are kept: a check stores nothing, and a key whose
failures all left the window is dropped (each time it is looked at, and all of them in one sweep
whenever the keys have doubled since the last). Before, every login name ever tried stayed, even
those only checked while their address was blocked: memory grew with each request."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

_FIRST_SWEEP = 1024  # keys held before the first sweep


class LoginLimiter:
    """Failed logins counted per key ("login:<name>", "addr:<ip>") in a sliding window."""

    def __init__(
        self, failures: int, window_seconds: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.window = float(window_seconds)
        self.clock = clock
        self._failed: dict[str, deque[float]] = {}
        self._sweep_at = _FIRST_SWEEP

    def _recent(self, key: str, now: float) -> int:
        """How many failures `key` has inside the window (dropping it when it has none)."""
        times = self._failed.get(key)
        if times is None:
            return 0
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            del self._failed[key]
        return len(times)

    def blocked(self, *keys: str) -> bool:
        """Whether any of the keys has used up its failures (then the login is not even tried)."""
        now = self.clock()
        return any(self._recent(key, now) >= self.failures for key in keys)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self._failed.setdefault(key, deque()).append(now)
        if len(self._failed) >= self._sweep_at:
            for key in list(self._failed):
                self._recent(key, now)
            self._sweep_at = max(_FIRST_SWEEP, 2 * len(self._failed))

    def succeeded(self, login_key: str) -> None:
        """A right password clears the login's count (the address's count stays)."""
        self._failed.pop(login_key, None)

    def keys_held(self) -> int:
        """How many keys have failures kept (what the limiter costs in memory)."""
        return len(self._failed)
