"""``orderseal station watch`` retries a down service with capped exponential backoff and jitter.

Adversary (of the service, unwittingly): a line of stations that lost the network and retries
the whole queue every second, in lockstep, the moment the service comes back.
"""

from __future__ import annotations

import random

from clients.station.backoff import Backoff


def test_delays_double_with_jitter_up_to_the_cap() -> None:
    random.seed(7)
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [backoff.failed(now=0.0) for _ in range(8)]
    steps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    for delay, step in zip(delays, steps, strict=True):
        assert step / 2 <= delay <= step
    # Jitter: two stations failing together do not retry at the same instant.
    assert len({round(d, 6) for d in delays[3:]}) > 1


def test_an_attempt_is_due_only_after_the_delay_and_success_resets() -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    assert backoff.due(0.0)
    for _ in range(4):
        backoff.failed(now=100.0)
    assert not backoff.due(100.0 + 3.9)  # the fourth step is 8 s, at least 4 s
    assert backoff.due(100.0 + 8.0)
    backoff.succeeded()
    assert backoff.due(100.0)
    assert backoff.failed(now=0.0) <= 1.0
