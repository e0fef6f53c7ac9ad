"""Retries: growing windows, full jitter, so that thousands of cameras never retry in lockstep."""

from __future__ import annotations

import random

from app.base.backoff import Backoff


def test_delays_stay_within_growing_windows():
    backoff = Backoff(1.0, 15.0, random.Random(1))
    for attempt in range(10):
        assert 0 <= backoff.next_delay() <= min(15.0, 2**attempt)


def test_reset_starts_over():
    backoff = Backoff(1.0, 60.0, random.Random(2))
    for _ in range(8):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_cameras_failing_together_retry_apart():
    # 2,000 cameras lose their switch at the same instant: their retries must spread over the window
    workers = [Backoff(1.0, 15.0, random.Random(seed)) for seed in range(2000)]
    for _ in range(5):
        delays = [w.next_delay() for w in workers]
    buckets = [0] * 15
    for d in delays:
        buckets[min(14, int(d))] += 1
    assert max(buckets) < 0.15 * len(workers)  # no second holds more than 15 % of them


def test_huge_attempt_counts_do_not_overflow():
    backoff = Backoff(1.0, 30.0, random.Random(3))
    for _ in range(5000):
        assert backoff.next_delay() <= 30.0
