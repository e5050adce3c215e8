"""What the dashboard and the alerts read back from this app's supplier-call histogram.

``supplier_totals`` sums ``uec_gateway_supplier_call_seconds`` per supplier since the
start: calls, failures (the supplier did not answer properly: a timeout, an
unavailable or garbled supplier, an open circuit; a business refusal such as a
slot already taken is an answer, not a failure) and the cumulative buckets.
``Window`` turns successive totals into the last few minutes' figures.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from gateway.metrics import Metrics

#: Outcomes that are the supplier failing, not answering.
FAILURES = frozenset(
    {"timeout", "error", "SupplierUnavailable", "SupplierProtocolError", "CircuitOpen"}
)


@dataclass(frozen=True)
class Totals:
    calls: int
    failures: int
    #: (upper bound in seconds, calls at or under it), ascending; the last is +Inf.
    buckets: tuple[tuple[float, int], ...]


def supplier_totals(metrics: Metrics) -> dict[str, Totals]:
    """Every supplier's calls, failures and latency buckets since the app started."""
    calls: dict[str, int] = {}
    failures: dict[str, int] = {}
    buckets: dict[str, dict[float, int]] = {}
    for family in metrics.supplier_seconds.collect():
        for sample in family.samples:
            supplier, outcome = sample.labels["supplier"], sample.labels["outcome"]
            count = int(sample.value)
            if sample.name.endswith("_count"):
                calls[supplier] = calls.get(supplier, 0) + count
                if outcome in FAILURES:
                    failures[supplier] = failures.get(supplier, 0) + count
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                per = buckets.setdefault(supplier, {})
                per[bound] = per.get(bound, 0) + count
    return {
        supplier: Totals(n, failures.get(supplier, 0), tuple(sorted(buckets[supplier].items())))
        for supplier, n in calls.items()
    }


def counts(metrics: Metrics) -> dict[str, tuple[int, int]]:
    """(calls, failures) per supplier since the start: the alerts' error_rate source."""
    return {s: (t.calls, t.failures) for s, t in supplier_totals(metrics).items()}


@dataclass
class Window:
    """The last ``span_s`` seconds of supplier calls, from totals read now and then."""

    span_s: float = 300.0
    _seen: deque[tuple[float, dict[str, Totals]]] = field(default_factory=deque)

    def read(
        self, now: float, totals: dict[str, Totals]
    ) -> dict[str, dict[str, float | int | None]]:
        """Per supplier: calls, error rate and p50 latency (ms) since the oldest kept read
        within the span (everything since the start before the first read)."""
        while self._seen and self._seen[0][0] < now - self.span_s:
            self._seen.popleft()
        before = self._seen[0][1] if self._seen else {}
        self._seen.append((now, totals))
        found: dict[str, dict[str, float | int | None]] = {}
        for supplier, total in totals.items():
            then = before.get(supplier, Totals(0, 0, ()))
            calls = total.calls - then.calls
            if calls <= 0:
                found[supplier] = {"calls": 0}
                continue
            found[supplier] = {
                "calls": calls,
                "error_rate": round((total.failures - then.failures) / calls, 4),
                "p50_ms": _p50_ms(total.buckets, then.buckets, calls),
            }
        return found


def _p50_ms(
    now: tuple[tuple[float, int], ...], then: tuple[tuple[float, int], ...], calls: int
) -> float | None:
    """The bucket bound under which half the window's calls fell (an upper estimate)."""
    earlier = dict(then)
    for bound, count in now:
        if count - earlier.get(bound, 0) >= calls / 2:
            return None if math.isinf(bound) else bound * 1000
    return None
