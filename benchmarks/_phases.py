"""Measured phases: one request's outcome, a phase of many, and its latency statistics."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    latency_s: float | None
    error: str | None = None
    response_bytes: int = 0
    #: book+cancel: the booking call (POST) alone, timed inside the operation.
    book_s: float | None = None


Op = Callable[[int, float], Awaitable[Outcome]]


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not sorted_values:
        return float("nan")
    rank = (len(sorted_values) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass
class PhaseResult:
    scenario: str
    target: str
    elapsed_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    response_bytes: int = 0
    concurrency: int = 0
    #: The booking POSTs alone (book+cancel only; empty for other scenarios).
    book_latencies_s: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies_s) + self.failures

    @property
    def failures(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def pct_ms(self, pct: float) -> float:
        return percentile(sorted(self.latencies_s), pct) * 1000

    def book_pct_ms(self, pct: float) -> float:
        """A percentile of the booking POSTs alone; NaN where none were timed."""
        return percentile(sorted(self.book_latencies_s), pct) * 1000

    def as_dict(self) -> dict[str, Any]:
        ok = len(self.latencies_s)
        book = (
            {
                "post_p50_ms": round(self.book_pct_ms(50), 3),
                "post_p99_ms": round(self.book_pct_ms(99), 3),
            }
            if self.book_latencies_s
            else {}
        )
        return {
            "scenario": self.scenario,
            "target": self.target,
            "concurrency": self.concurrency,
            "requests": self.requests,
            "failures": self.failures,
            "errors": dict(self.errors),
            "elapsed_s": round(self.elapsed_s, 4),
            "req_per_s": round(self.rate, 2),
            "p50_ms": round(self.pct_ms(50), 3),
            "p99_ms": round(self.pct_ms(99), 3),
            "mean_response_bytes": round(self.response_bytes / ok) if ok else None,
            **book,
        }


async def run_phase(
    scenario: str, target: str, op: Op, count: int, seconds: float, concurrency: int
) -> PhaseResult:
    """``concurrency`` workers share ``count`` requests; no new request after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    issued = 0
    outcomes: list[Outcome] = []

    async def worker() -> None:
        nonlocal issued
        while issued < count and loop.time() < deadline:
            index = issued
            issued += 1
            outcomes.append(await op(index, deadline))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    result = PhaseResult(scenario, target, time.perf_counter() - started, concurrency=concurrency)
    for outcome in outcomes:
        if outcome.error is not None or outcome.latency_s is None:
            result.errors[outcome.error or "unknown"] += 1
        else:
            result.latencies_s.append(outcome.latency_s)
            result.response_bytes += outcome.response_bytes
            if outcome.book_s is not None:
                result.book_latencies_s.append(outcome.book_s)
    return result
