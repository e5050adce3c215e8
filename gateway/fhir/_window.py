"""The ``start`` and ``end`` date parameters of a slot search, with their prefixes.

search_slots.md gives ``start=ge…&start=le…``; uec_capability.md also declares
``end``. FHIR's ``gt``/``lt`` exclude the bound. Suppliers keep times to the
second or the minute, so an exclusive bound cannot be sent to them exactly: the
adapter is asked for the inclusive window around it, and the gateway drops the
slots on a bound it excludes (``Window.admits``). That way ``gt`` means "after"
on every backend alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from multidict import MultiMapping

from adapters.domain import Slot
from gateway.errors import ApiError, ErrorKind

PREFIXES = ("ge", "gt", "le", "lt", "eq")


@dataclass(frozen=True, slots=True)
class Bound:
    at: datetime
    inclusive: bool = True

    def admits_from(self, value: datetime) -> bool:
        """As a lower bound: ``value`` is after it (or on it, if inclusive)."""
        return value >= self.at if self.inclusive else value > self.at

    def admits_to(self, value: datetime) -> bool:
        """As an upper bound: ``value`` is before it (or on it, if inclusive)."""
        return value <= self.at if self.inclusive else value < self.at


@dataclass(frozen=True, slots=True)
class Range:
    """Lower and upper bounds of one date parameter; None where unbounded."""

    lower: Bound | None = None
    upper: Bound | None = None

    def admits(self, value: datetime) -> bool:
        return (self.lower is None or self.lower.admits_from(value)) and (
            self.upper is None or self.upper.admits_to(value)
        )


@dataclass(frozen=True, slots=True)
class Window:
    """When the slots asked for start and end."""

    start: Range
    end: Range

    def admits(self, slot: Slot) -> bool:
        return self.start.admits(slot.start) and self.end.admits(slot.end)


def _bad(param: str, message: str) -> ApiError:
    return ApiError(ErrorKind.INVALID_PARAMETER, message, expression=param)


def _parse_when(raw: str, upper: bool) -> datetime:
    """A date or dateTime; a bare date covers its whole day (UTC)."""
    if len(raw) == 10:
        day = date.fromisoformat(raw)
        moment = datetime.combine(day, time.min, tzinfo=UTC)
        return moment + timedelta(days=1) - timedelta(microseconds=1) if upper else moment
    value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    if value.tzinfo is None:
        raise ValueError("a time needs a UTC offset")
    return value.astimezone(UTC)


def _range(params: MultiMapping[str], name: str) -> Range:
    lower: Bound | None = None
    upper: Bound | None = None
    for raw in params.getall(name, []):
        prefix, value = raw[:2], raw[2:]
        if prefix not in PREFIXES:
            prefix, value = "eq", raw
        try:
            first = _parse_when(value, upper=False)
            last = _parse_when(value, upper=True)
        except ValueError:
            raise _bad(
                name, f"'{name}={raw}' is not a valid date or dateTime with offset"
            ) from None
        # A date is the range of its day: gt is after the day, lt before it.
        if prefix in ("ge", "eq"):
            lower = Bound(first)
        elif prefix == "gt":
            lower = Bound(last, inclusive=False)
        if prefix in ("le", "eq"):
            upper = Bound(last)
        elif prefix == "lt":
            upper = Bound(first, inclusive=False)
    if lower and upper and lower.at > upper.at:
        raise _bad(name, f"the {name} window ends before it begins")
    return Range(lower, upper)


def window(params: MultiMapping[str], now: datetime) -> Window:
    """The window asked for; slots that have already started are never offered."""
    start, end = _range(params, "start"), _range(params, "end")
    for name, found in (("start", start), ("end", end)):
        if found.upper is not None and found.upper.at < now:
            # er_overview.md: both ends in the past is 400; a past window start alone is fine.
            raise _bad(name, f"the whole {name} window is in the past")
    if start.lower is None or start.lower.at < now:
        start = Range(Bound(now), start.upper)
    return Window(start, end)


def supplier_bounds(found: Window, now: datetime) -> tuple[datetime, datetime | None]:
    """The inclusive start window to ask a supplier for: every slot ``found`` admits, or more."""
    lower = found.start.lower
    start_from = lower.at if lower else now
    uppers = [b.at for b in (found.start.upper, found.end.upper) if b is not None]
    # A slot starts before it ends, so an upper bound on its end bounds its start too.
    return start_from, min(uppers) if uppers else None
