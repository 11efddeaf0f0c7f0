"""Clocks: the only source of time for the engine.

The engine never reads the system time itself; it asks its clock. ``WallClock``
gives seconds since the epoch; ``VirtualClock`` gives a time that moves only
when a test or a simulation moves it.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """The current time in seconds."""
        ...


class WallClock:
    """Real time: seconds since the epoch."""

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Time that moves only by ``advance`` and ``set``; never backwards."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        return self._now

    def restore(self, t: float) -> None:
        """Put the clock back to ``t`` after an advance whose firings were not recorded."""
        self._now = float(t)

    def set(self, t: float) -> float:
        if t < self._now:
            raise ValueError("a clock cannot go backwards")
        self._now = float(t)
        return self._now


def elapsed() -> float:
    """Seconds on a monotonic clock: for timing the processes a dispatcher supervises, never for
    the engine, whose time is its ``Clock``'s."""
    return time.monotonic()
