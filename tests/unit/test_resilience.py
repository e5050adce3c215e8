"""The one retry policy: jittered exponential pauses that never overrun the deadline."""

from __future__ import annotations

import time

from adapters._resilience import RetryPolicy, fits, pause


def test_pauses_double_up_to_the_ceiling() -> None:
    """With the jitter at its midpoint each pause doubles until max_backoff_s."""
    policy = RetryPolicy(attempts=10, backoff_s=0.1, max_backoff_s=0.5)
    delays = [round(policy.delay(n, lambda: 0.5), 3) for n in range(1, 6)]
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_jitter_stays_within_its_bounds() -> None:
    """A pause lies within nominal * (1 +/- jitter), at the extremes of the random draw too."""
    policy = RetryPolicy(backoff_s=0.2, jitter=0.5)
    assert policy.delay(2, lambda: 0.0) == 0.2
    assert round(policy.delay(2, lambda: 0.999999), 4) == 0.6
    drawn = [policy.delay(2) for _ in range(500)]
    assert all(0.2 <= d <= 0.6 for d in drawn)
    assert max(drawn) - min(drawn) > 0.1  # actually random, so replicas do not retry together


def test_a_pause_must_leave_room_before_the_deadline() -> None:
    """No pause is taken that would leave under a tenth of the remaining time for the attempt."""
    assert fits(0.1, None)
    assert fits(0.1, 1.0)
    assert not fits(0.95, 1.0)


async def test_pause_refuses_when_the_deadline_is_too_near() -> None:
    """With too little time left, pause returns False at once instead of sleeping."""
    policy = RetryPolicy(attempts=5, backoff_s=2.0)
    began = time.perf_counter()
    assert await pause(policy, 1, remaining=0.5) is False
    assert time.perf_counter() - began < 0.05


async def test_pause_refuses_when_attempts_are_spent() -> None:
    """After the last attempt there is no pause, whatever the time left."""
    assert await pause(RetryPolicy(attempts=2, backoff_s=0.0), 2, remaining=None) is False


async def test_pause_sleeps_at_least_what_the_supplier_asked() -> None:
    """A supplier's Retry-After lengthens the pause; the answer is True: try again."""
    policy = RetryPolicy(attempts=3, backoff_s=0.001)
    began = time.perf_counter()
    assert await pause(policy, 1, remaining=5.0, at_least=0.05) is True
    assert time.perf_counter() - began >= 0.05
