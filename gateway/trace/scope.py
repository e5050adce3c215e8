"""One exchange's hops while it runs, reachable from anywhere it awaits (a contextvar).

A door opens the scope when a request or message arrives and closes it after the
answer; the booking service adds a hop for each supplier call (``supplier_call``)
and any code may ``note`` an id it learns (a linked referral, a supplier
reference). Every value is masked (``mask_identifiers``) and cut to
``MAX_ID``: a sender's header may hold anything, an NHS number included.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from adapters.domain import utcnow
from gateway.logs import mask_identifiers
from gateway.store.trace import ATTRIBUTES, ID_KINDS, TraceHop

#: Longest id kept; a longer value is a payload, not an id.
MAX_ID = 128
_KNOWN = frozenset(ID_KINDS) | frozenset(ATTRIBUTES)


def clean_ids(ids: dict[str, str | int | None]) -> dict[str, str]:
    """Known kinds with a value, masked and cut; anything else is dropped."""
    return {
        kind: mask_identifiers(str(value))[:MAX_ID]
        for kind, value in ids.items()
        if kind in _KNOWN and value not in (None, "")
    }


@dataclass
class TraceExchange:
    """The hops of one exchange so far and the ids noted for its inbound hop."""

    at: datetime = field(default_factory=utcnow)
    started: float = field(default_factory=time.perf_counter)
    ids: dict[str, str] = field(default_factory=dict)
    calls: list[TraceHop] = field(default_factory=list)

    def note(self, **ids: str | int | None) -> None:
        self.ids.update(clean_ids(ids))

    def inbound(
        self, place: str, kind: str, outcome: str, **ids: str | int | None
    ) -> list[TraceHop]:
        """The exchange's hops: its inbound hop (with every id noted), then its calls."""
        self.note(**ids)
        latency = round((time.perf_counter() - self.started) * 1000, 3)
        first = TraceHop(self.at, place, kind, outcome, latency, dict(self.ids))
        return [first, *self.calls]


_CURRENT: contextvars.ContextVar[TraceExchange | None] = contextvars.ContextVar(
    "trace_exchange", default=None
)


@contextlib.contextmanager
def opened() -> Iterator[TraceExchange]:
    """Open one exchange's scope for the code run inside it."""
    exchange = TraceExchange()
    token = _CURRENT.set(exchange)
    try:
        yield exchange
    finally:
        _CURRENT.reset(token)


def current() -> TraceExchange | None:
    return _CURRENT.get()


def note(**ids: str | int | None) -> None:
    """Add ids to the running exchange's inbound hop (nothing outside a scope)."""
    exchange = _CURRENT.get()
    if exchange is not None:
        exchange.note(**ids)


@dataclass
class Call:
    """One supplier call being timed; ``outcome`` and ``ids`` are set as it ends."""

    outcome: str = "ok"
    ids: dict[str, str | int | None] = field(default_factory=dict)


@contextlib.contextmanager
def supplier_call(route: str, op: str) -> Iterator[Call]:
    """Time one supplier call as a ``supplier.<op>`` hop of the running exchange."""
    exchange = _CURRENT.get()
    call = Call()
    at, started = utcnow(), time.perf_counter()
    try:
        yield call
    except BaseException as exc:
        if call.outcome == "ok":
            call.outcome = type(exc).__name__
        raise
    finally:
        if exchange is not None:
            latency = round((time.perf_counter() - started) * 1000, 3)
            hop = TraceHop(at, route, f"supplier.{op}", call.outcome, latency, clean_ids(call.ids))
            exchange.calls.append(hop)
