"""Prometheus metrics for one gateway app: what it served, what it asked suppliers, how long.

Each app owns a ``CollectorRegistry`` (``Metrics``), so several apps in one
process never share counters. It is bound as the ``adapters.telemetry`` sink
for each request and for the listeners the app starts, so deep code counts with
``current()`` without being handed it. Labels are bounded by configuration
(door, interaction, route, supplier, op, stage), never an id or patient value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from adapters import telemetry

#: A supplier name -> its circuit state ("closed", "half_open" or "open"), read at each scrape.
StateSource = Callable[[], Mapping[str, str]]

#: The number each circuit state is exported as (uec_gateway_circuit_state).
CIRCUIT_STATES: Mapping[str, float] = {"closed": 0.0, "half_open": 1.0, "open": 2.0}

_PROCESS_SOURCES: list[StateSource] = []

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def register_state_source(source: StateSource) -> Callable[[], None]:
    """Export ``source``'s circuit states from every app in this process; returns its undo."""
    _PROCESS_SOURCES.append(source)
    return lambda: _PROCESS_SOURCES.remove(source)


class _CircuitCollector(Collector):
    def __init__(self, sources: list[StateSource]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "uec_gateway_circuit_state",
            "Circuit state per supplier: 0 closed, 1 half-open, 2 open",
            labels=["supplier"],
        )
        for source in [*_PROCESS_SOURCES, *self._sources]:
            for supplier, state in source().items():
                family.add_metric([supplier], CIRCUIT_STATES.get(state, -1.0))
        yield family


class Metrics:
    """The instruments of one app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._sources: list[StateSource] = []
        self.registry.register(_CircuitCollector(self._sources))
        self._http(self.registry)
        self._booking(self.registry)
        self._state(self.registry)

    def _http(self, reg: CollectorRegistry) -> None:
        self.requests = Counter(
            "uec_gateway_http_requests", "HTTP requests answered",
            ["door", "interaction", "status", "route"], registry=reg,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "uec_gateway_http_request_seconds", "HTTP request latency",
            ["door", "interaction"], buckets=_SECONDS, registry=reg,
        )  # fmt: skip
        self.supplier_seconds = Histogram(
            "uec_gateway_supplier_call_seconds", "Supplier adapter call latency, by outcome",
            ["supplier", "op", "outcome"], buckets=_SECONDS, registry=reg,
        )  # fmt: skip
        self.store_seconds = Histogram(
            "uec_gateway_store_call_seconds", "Store call latency",
            ["op"], buckets=_SECONDS, registry=reg,
        )  # fmt: skip

    def _booking(self, reg: CollectorRegistry) -> None:
        self.bookings = Counter(
            "uec_gateway_bookings", "Appointments booked", ["route"], registry=reg
        )
        self.cancellations = Counter(
            "uec_gateway_cancellations", "Appointments cancelled", ["route"], registry=reg
        )
        self.duplicates = Counter(
            "uec_gateway_duplicates_replayed",
            "Resent X-Request-IDs answered from the ledger, not booked again",
            ["same_body"], registry=reg,
        )  # fmt: skip
        self.in_doubt = Counter(
            "uec_gateway_in_doubt_resolved", "In-doubt ledger claims resolved, by outcome",
            ["outcome"], registry=reg,
        )  # fmt: skip
        self.messages = Counter(
            "uec_gateway_inbound_messages", "Inbound HL7 v2 SIU and ITK messages, by stage",
            ["channel", "stage"], registry=reg,
        )  # fmt: skip

    def _state(self, reg: CollectorRegistry) -> None:
        self.claims_pending = Gauge(
            "uec_gateway_ledger_claims_pending", "Ledger claims pending (in doubt)", registry=reg
        )
        self.generation = Gauge(
            "uec_gateway_mapping_generation", "Runtime reload generation", registry=reg
        )
        self.mapping = Gauge(
            "uec_gateway_mapping_info", "The mapping version serving (value 1)",
            ["mapping_version"], registry=reg,
        )  # fmt: skip
        self.build = Gauge(
            "uec_gateway_build_info", "Package version, git commit and Python (value 1)",
            ["version", "commit", "python"], registry=reg,
        )  # fmt: skip

    def register_state_source(self, source: StateSource) -> None:
        """Export ``source``'s circuit states from this app only."""
        self._sources.append(source)

    def message(self, channel: str, stage: str) -> None:
        """``adapters.telemetry.Sink``: one inbound message reached ``stage``."""
        self.messages.labels(channel, stage).inc()

    def set_mapping(self, generation: int, version: str) -> None:
        self.generation.set(generation)
        self.mapping.clear()
        self.mapping.labels(version).set(1)


def current() -> Metrics | None:
    """The metrics of the app serving this task, if any."""
    sink = telemetry.SINK.get()
    return sink if isinstance(sink, Metrics) else None


@contextmanager
def bound(metrics: Metrics) -> Iterator[None]:
    """Count into ``metrics`` for the duration (one request, or a listener's start)."""
    token = telemetry.SINK.set(metrics)
    try:
        yield
    finally:
        telemetry.SINK.reset(token)


def counted(name: str, *labels: str) -> None:
    """Add one to this app's counter ``name`` (bookings, cancellations, duplicates,
    in_doubt) with ``labels``; nothing when no app's metrics are bound."""
    metrics = current()
    if metrics is not None:
        counter: Counter = getattr(metrics, name)
        counter.labels(*labels).inc()


def supplier_call(supplier: str, op: str, outcome: str, seconds: float) -> None:
    """One adapter call to ``supplier`` took ``seconds`` and ended in ``outcome``."""
    metrics = current()
    if metrics is not None:
        metrics.supplier_seconds.labels(supplier, op, outcome).observe(seconds)
