"""A 1,000-slot search beside ``GET /health``: does a big answer stall the event loop?

Big searches run back to back at concurrency 2 while another task probes
``/health`` every 20 ms on its own connection; the probes' latency is what a
load balancer's health check would see during such searches.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks._fhir import (
    candidate_windows,
    consumer_headers,
    json_slot_count,
    new_session,
    search_url,
    window_query,
)
from benchmarks._options import Options
from benchmarks._phases import percentile
from benchmarks._targets import Target
from gateway.security import Scope

BIG_SCENARIO = "slot-search-1000"
BIG_SLOTS = 1000
BIG_CONCURRENCY = 2
HEALTH_EVERY_S = 0.02


@dataclass(frozen=True)
class BigSearch:
    window: str
    slots: int


async def calibrate_big(opts: Options, gateway: Target, tries: int = 10) -> BigSearch:
    """A start window the gateway answers with 1,000 free slots (from the calibration's list)."""
    async with new_session(opts, 1) as session:
        for index, (first, last) in enumerate(
            candidate_windows(gateway.cal.slots, gateway.cal.earliest, BIG_SLOTS)
        ):
            if index >= tries:
                break
            window = window_query(first, last)
            headers = consumer_headers(Scope.SLOT_READ, "read:slot", gateway.audience)
            async with session.get(search_url(gateway.root, window), headers=headers) as resp:
                raw = await resp.read()
            if resp.status == 200 and json_slot_count(raw) == BIG_SLOTS:
                return BigSearch(window, BIG_SLOTS)
    raise RuntimeError(
        f"no start window gives {BIG_SLOTS} free slots ({len(gateway.cal.slots)} free in the "
        "diary's horizon after the run's margin)"
    )


@dataclass
class HealthProbes:
    """The /health probes of one big-search phase."""

    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def failures(self) -> int:
        return sum(self.errors.values())

    def pct_ms(self, pct: float) -> float:
        return percentile(sorted(self.latencies_s), pct) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies_s, default=float("nan")) * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "probes": len(self.latencies_s) + self.failures,
            "failures": self.failures,
            "errors": dict(self.errors),
            "p50_ms": round(self.pct_ms(50), 3),
            "p99_ms": round(self.pct_ms(99), 3),
            "max_ms": round(self.max_ms, 3),
        }


async def _probe(session: aiohttp.ClientSession, url: str, probes: HealthProbes) -> None:
    started = time.perf_counter()
    try:
        async with session.get(url) as resp:
            await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        probes.errors[f"GET /health: {type(exc).__name__}"] += 1
        return
    if resp.status != 200:
        probes.errors[f"GET /health -> {resp.status}"] += 1
        return
    probes.latencies_s.append(time.perf_counter() - started)


async def probe_health(opts: Options, root: str, stop: asyncio.Event) -> HealthProbes:
    """GET /health every 20 ms (start to start; never two at once) until ``stop`` is set.

    One untimed probe first opens the keep-alive connection the others reuse.
    """
    probes = HealthProbes()
    loop = asyncio.get_running_loop()
    async with new_session(opts, 1) as session:
        await _probe(session, f"{root}/health", HealthProbes())
        next_at = loop.time()
        while not stop.is_set():
            await _probe(session, f"{root}/health", probes)
            next_at = max(next_at + HEALTH_EVERY_S, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next_at - loop.time())
    return probes
