"""When to try again (a camera, a database): exponential backoff with full jitter.

The n-th retry waits a uniformly random time in [0, min(cap, base·2ⁿ)]. The
randomness matters more than the growth: after a switch reboots, thousands of
cameras (or, when a database restarts, every process of a region) fail at the
same instant, and without jitter they would all retry in the same instant
again, forever (AWS Architecture Blog, "Exponential Backoff
And Jitter", 2015: full jitter spreads the load best).
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; each call widens the window."""
        window = min(self.cap, self.base * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return self._rng.uniform(0, window)

    def reset(self) -> None:
        """It worked again: the next failure starts from the smallest window."""
        self._attempt = 0
