"""One circuit breaker per supplier route, so a supplier that is down is answered for fast.

closed -> open after ``failures`` consecutive transient failures (unreachable, timed
out, outcome unknown, nonsense answers); open refuses at once with ``CircuitOpen``
(every door's transient answer, with Retry-After the seconds until the probe);
after ``reset_s`` the circuit is half-open and lets exactly one call through as a
probe: its success closes the circuit, its failure opens it again for ``reset_s``.
A business answer (slot taken, booking not found) is a supplier that works: success.

A small state machine rather than aiobreaker: the gateway needs the seconds until the
probe (for Retry-After), exactly one probe at a time under asyncio, an injectable
clock for tests, and a state another part can read without reaching into a library.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, Field

from adapters import errors as adapter_errors
from adapters.domain import utcnow

log = structlog.get_logger(__name__)

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]


class CircuitOptions(BaseModel):
    """How many consecutive failures open a route's circuit, and how long it stays open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(default=5, ge=1, le=1000)
    reset_s: float = Field(default=30.0, gt=0, le=3600)


class CircuitSettings(BaseModel):
    """``circuits:`` in the configuration: defaults, and overrides by adapter name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    default: CircuitOptions = CircuitOptions()
    adapters: dict[str, CircuitOptions] = Field(default_factory=dict)

    def for_route(self, name: str) -> CircuitOptions:
        return self.adapters.get(name, self.default)


@dataclass(frozen=True, slots=True)
class CircuitState:
    """What an operator (the dashboard, /metrics, /health) sees of one route's circuit."""

    route: str
    state: State
    failures: int
    opened_at: datetime | None
    retry_after_s: float | None

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "failures": self.failures,
            "opened_at": self.opened_at.isoformat() if self.opened_at else None,
            "retry_after_s": self.retry_after_s,
        }


def counts_as_failure(exc: BaseException) -> bool:
    """Whether an adapter call's error says the supplier is unwell (not a business answer)."""
    if isinstance(exc, adapter_errors.CircuitOpen):
        return False
    if isinstance(exc, adapter_errors.AdapterError):
        return exc.transient
    return isinstance(exc, TimeoutError)


class Circuit:
    """The breaker of one route; ``clock`` is monotonic seconds, ``wall`` stamps opened_at."""

    def __init__(
        self,
        route: str,
        options: CircuitOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.route = route
        self.options = options
        self._clock = clock
        self._wall = wall
        self._failures = 0
        self._opened: float | None = None
        self._opened_at: datetime | None = None
        self._probing = False

    @property
    def state(self) -> State:
        if self._opened is None:
            return "closed"
        return "half_open" if self._clock() >= self._opened + self.options.reset_s else "open"

    def retry_after(self) -> float:
        """Seconds until the half-open probe may be sent (0 when it may be sent now)."""
        if self._opened is None:
            return 0.0
        return max(0.0, self._opened + self.options.reset_s - self._clock())

    def admit(self, op: str) -> None:
        """Let a call through, or raise ``CircuitOpen`` (at most one half-open probe)."""
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._probing:
            self._probing = True
            log.info("circuit_probe_sent", route=self.route, op=op)
            return
        wait = max(1, math.ceil(self.retry_after()))
        raise adapter_errors.CircuitOpen(
            f"{self.route} is failing; the gateway is not calling it for now (retry in {wait} s)",
            retry_after_s=wait,
        )

    def succeeded(self) -> None:
        if self._opened is not None:
            log.info("circuit_closed", route=self.route)
        self._failures, self._opened, self._opened_at, self._probing = 0, None, None, False

    def failed(self) -> None:
        self._failures += 1
        if self._probing or (self._opened is None and self._failures >= self.options.failures):
            self._opened, self._opened_at = self._clock(), self._wall()
            log.warning("circuit_opened", route=self.route, failures=self._failures)
        self._probing = False

    def released(self) -> None:
        """A call that ended without telling (cancelled): a probe slot is freed for another."""
        self._probing = False

    def snapshot(self) -> CircuitState:
        state = self.state
        after = None if state == "closed" else round(self.retry_after(), 3)
        return CircuitState(self.route, state, self._failures, self._opened_at, after)


class Breakers:
    """The circuits of every route, kept across reloads (a reload does not heal a supplier)."""

    def __init__(
        self,
        settings: CircuitSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings or CircuitSettings()
        self._clock = clock
        self._wall = wall
        self._circuits: dict[str, Circuit] = {}

    def circuit(self, route: str) -> Circuit:
        found = self._circuits.get(route)
        options = self.settings.for_route(route)
        if found is None or found.options != options:
            found = Circuit(route, options, clock=self._clock, wall=self._wall)
            self._circuits[route] = found
        return found

    async def call(self, route: str, op: str, work: Awaitable[T], timeout_s: float | None) -> T:
        """One supplier call through ``route``'s circuit, within ``timeout_s``.

        Refused at once (``CircuitOpen``) while the circuit is open; otherwise its
        outcome is noted: a transient failure or a timeout counts against the supplier.
        """
        if not self.settings.enabled:
            async with asyncio.timeout(timeout_s):
                return await work
        circuit = self.circuit(route)
        try:
            circuit.admit(op)
        except adapter_errors.CircuitOpen:
            if inspect.iscoroutine(work):
                work.close()  # never sent: no "coroutine was never awaited" warning
            raise
        try:
            async with asyncio.timeout(timeout_s):
                result = await work
        except BaseException as exc:
            _note(circuit, exc)
            raise
        circuit.succeeded()
        return result

    def states(self) -> dict[str, CircuitState]:
        """Each route's circuit as it stands (routes never called are closed)."""
        return {name: c.snapshot() for name, c in sorted(self._circuits.items())}


def _note(circuit: Circuit, exc: BaseException) -> None:
    if counts_as_failure(exc):
        circuit.failed()
    elif isinstance(exc, adapter_errors.AdapterError):
        circuit.succeeded()  # a business answer: the supplier works
    else:
        circuit.released()  # cancelled, or a fault of ours: says nothing of the supplier


def unknown_routes(settings: CircuitSettings, names: list[str]) -> list[tuple[str, str]]:
    """Each ``circuits.adapters`` key no adapter has, with what to say about it."""
    out = []
    for key in settings.adapters:
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            out.append((key, f"circuits.adapters: no adapter '{key}'{hint}"))
    return out


def circuit_states(breakers: Breakers, routes: list[str]) -> dict[str, CircuitState]:
    """The state of each of ``routes``' circuits, closed for a route not called yet."""
    known = breakers.states()
    return {name: known.get(name) or CircuitState(name, "closed", 0, None, None) for name in routes}
