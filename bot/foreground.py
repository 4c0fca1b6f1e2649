"""People before sweeps: work that goes faster in parallel (planning a fan-out) holds its extra workers back
while commands and clicks are arriving, so it never crowds out the answers people wait for."""

from __future__ import annotations

import time
from collections.abc import Callable

QUIET = 2.0  # seconds without an event before the extra workers run again


class Foreground:
    """When the last event arrived, on the process's own monotonic clock (load, not business time)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = float("-inf")

    def arrived(self) -> None:
        """An event from a person is being handled."""
        self._last = self._clock()

    def busy(self) -> bool:
        """Whether an event arrived in the last QUIET seconds."""
        return self._clock() - self._last < QUIET
