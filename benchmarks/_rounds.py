"""The main run's plan: every (scenario, concurrency, target) phase, once per round.

Rounds are interleaved (round 1 runs every phase, then round 2 does, ...) so a
slow spell on the machine touches every target alike; a row reports its median
round by throughput, with every round's throughput beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks._big import BIG_CONCURRENCY, BIG_SCENARIO, HealthProbes
from benchmarks._constants import SCENARIOS
from benchmarks._phases import PhaseResult

XML_SCENARIO = "slot-search-xml"


@dataclass(frozen=True)
class PhaseSpec:
    scenario: str
    concurrency: int
    target: str


def plan(concurrencies: Sequence[int], targets: Sequence[str]) -> list[PhaseSpec]:
    """One round's phases, in order: each scenario at each concurrency on each target;
    then XML search at the highest concurrency and the big search, on the gateway."""
    phases = [
        PhaseSpec(scenario, concurrency, target)
        for scenario in SCENARIOS
        for concurrency in concurrencies
        for target in targets
    ]
    phases.append(PhaseSpec(XML_SCENARIO, max(concurrencies), "gateway"))
    phases.append(PhaseSpec(BIG_SCENARIO, BIG_CONCURRENCY, "gateway"))
    return phases


@dataclass(frozen=True)
class Measured:
    """One phase of one round (with its /health probes for the big search)."""

    result: PhaseResult
    health: HealthProbes | None = None


@dataclass
class Row:
    """One phase across the rounds."""

    spec: PhaseSpec
    rounds: list[Measured] = field(default_factory=list)

    @property
    def median(self) -> Measured:
        """The median round by throughput (the lower middle one of an even count)."""
        ordered = sorted(self.rounds, key=lambda m: m.result.rate)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def failures(self) -> int:
        """Every round's failed requests and probes."""
        return sum(m.result.failures + (m.health.failures if m.health else 0) for m in self.rounds)

    def as_dict(self) -> dict[str, Any]:
        median = self.median
        out = {
            **median.result.as_dict(),
            "median_round": self.rounds.index(median) + 1,
            "rounds_req_per_s": [round(m.result.rate, 2) for m in self.rounds],
            "rounds": [m.result.as_dict() for m in self.rounds],
        }
        if median.health is not None:
            out["health"] = median.health.as_dict()
            out["rounds_health"] = [m.health.as_dict() for m in self.rounds if m.health]
        return out


def rows_for(specs: Sequence[PhaseSpec]) -> dict[PhaseSpec, Row]:
    return {spec: Row(spec) for spec in specs}
