"""The login rate limit: so many failed logins per login name and per client address within a
window (settings `console.login_failures`, `console.login_window_seconds`), then 429."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class LoginLimiter:
    """Failed logins counted per key ("login:<name>", "addr:<ip>") in a sliding window."""

    def __init__(self, failures: int, window_seconds: int) -> None:
        self.failures = failures
        self.window = float(window_seconds)
        self._failed: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failed[key]
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        """Whether any of the keys has used up its failures (then the login is not even tried)."""
        now = time.monotonic()
        return any(len(self._recent(key, now)) >= self.failures for key in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, login_key: str) -> None:
        """A right password clears the login's count (the address's count stays)."""
        self._failed.pop(login_key, None)
