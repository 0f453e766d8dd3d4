"""Retry pacing for a station whose service is down.

Exponential steps (base, 2 x base, 4 x base, ...) capped at ``cap``, each delay a random half
to all of its step ("equal jitter"): a station down for an hour makes tens of attempts, not
thousands, and a line of stations that lost the network together does not retry in lockstep
the moment the service is back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Exponential retry delay with jitter, capped: a station down for an hour makes tens of
    attempts, not thousands, and a line of stations does not retry in lockstep."""

    base: float
    cap: float
    failures: int = 0
    next_at: float = 0.0

    def due(self, now: float) -> bool:
        """Whether the next attempt may run at ``now`` (monotonic seconds)."""
        return now >= self.next_at

    def failed(self, now: float) -> float:
        """Record a failed attempt; the delay until the next (half to all of the step)."""
        step = min(self.cap, self.base * 2.0**self.failures)
        self.failures += 1
        delay = step * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
        self.next_at = now + delay
        return delay

    def succeeded(self) -> None:
        """The service answered: retry at once next time."""
        self.failures = 0
        self.next_at = 0.0
