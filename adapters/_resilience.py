"""The one retry policy every supplier client shares: jittered exponential backoff
inside the call's deadline.

Which errors are worth another attempt is the caller's to decide (only it knows
whether a resend is safe: a request that never left, a read, a write carrying its
idempotency key); this module only decides how long to wait, and whether the wait
still fits the deadline. A small function rather than tenacity or stamina: each
client's loop already sits inside its own error translation and logging, and the
deadline comes from ``CallContext.remaining``, which neither library knows; a
decorator would have had to own both.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts, the first pause, its ceiling, and how much of each pause is random."""

    attempts: int = 3
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    #: Each pause is drawn from [nominal * (1 - jitter), nominal * (1 + jitter)].
    jitter: float = 0.5

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The pause after failed attempt ``attempt`` (1-based): doubling, capped, jittered."""
        nominal = min(self.max_backoff_s, self.backoff_s * 2.0 ** max(0, attempt - 1))
        return max(0.0, nominal * (1.0 - self.jitter + 2.0 * self.jitter * rng()))

    def another(self, attempt: int) -> bool:
        """Whether attempts are left after attempt ``attempt``."""
        return attempt < self.attempts


def fits(delay: float, remaining: float | None) -> bool:
    """Whether pausing ``delay`` still leaves time for an attempt before the deadline."""
    return remaining is None or delay < remaining * 0.9


async def pause(
    policy: RetryPolicy,
    attempt: int,
    remaining: float | None,
    *,
    at_least: float = 0.0,
    rng: Callable[[], float] = random.random,
) -> bool:
    """Sleep before the next attempt; False (without sleeping) when none is left or the
    deadline leaves no room for one. ``at_least`` honours a supplier's Retry-After."""
    if not policy.another(attempt):
        return False
    delay = max(policy.delay(attempt, rng), at_least)
    if not fits(delay, remaining):
        return False
    await asyncio.sleep(delay)
    return True
