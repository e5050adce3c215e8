"""Slot templates (wall-clock opening patterns) and the slots they generate.

Templates speak local wall-clock time ("mon-fri 08:00-20:00 every 10 minutes");
slots are stored as UTC instants (fs_times.md). Daylight saving is handled by
``zoneinfo``: a wall-clock start that does not exist (the spring-forward gap) is
skipped, and an ambiguous one (the repeated autumn hour) is taken at its first
occurrence, so slots of one schedule never overlap.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.domain import DeliveryChannel

#: Slot ids are uuid5 in this namespace of (schedule id, start instant): the same
#: template always yields the same ids, so regeneration is idempotent.
SLOT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:uec-gateway:embedded:slot")

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class SlotTemplate:
    schedule_id: str
    #: Weekday numbers, Monday = 0.
    weekdays: frozenset[int]
    #: Minutes after local midnight; ``end`` may be 1440 ("24:00").
    start: int
    end: int
    minutes: int
    delivery_channel: DeliveryChannel | None = None


@dataclass(frozen=True, slots=True)
class GeneratedSlot:
    id: str
    schedule_id: str
    start: datetime
    end: datetime
    delivery_channel: DeliveryChannel | None


def parse_weekdays(text: str) -> frozenset[int]:
    """``"mon-sun"``, ``"mon,tue"``, ``"mon-fri,sun"`` or a wrapping range ``"fri-mon"``."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        start = _day(first)
        stop = _day(last) if last else start
        span = (stop - start) % 7
        days.update((start + offset) % 7 for offset in range(span + 1))
    return frozenset(days)


def _day(name: str) -> int:
    try:
        return _DAYS.index(name)
    except ValueError:
        raise ValueError(f"'{name}' is not a weekday (use {', '.join(_DAYS)})") from None


def parse_clock(text: str) -> int:
    """Minutes after midnight of ``"HH:MM"``; ``"24:00"`` is the end of the day."""
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"'{text}' is not a time like 08:00")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > _MINUTES_PER_DAY:
        raise ValueError(f"'{text}' is not a time of day")
    return value


def slot_id(schedule_id: str, start: datetime) -> str:
    return str(uuid.uuid5(SLOT_NAMESPACE, f"{schedule_id}/{start.astimezone(UTC).isoformat()}"))


def generate(
    templates: Iterable[SlotTemplate], zone: ZoneInfo, first_day: date, days: int
) -> Iterator[GeneratedSlot]:
    """Slots of ``templates`` for ``days`` local days from ``first_day``, in UTC."""
    templates = tuple(templates)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for template in templates:
            if day.weekday() in template.weekdays:
                yield from _day_slots(template, zone, day)


def _day_slots(template: SlotTemplate, zone: ZoneInfo, day: date) -> Iterator[GeneratedSlot]:
    midnight = datetime(day.year, day.month, day.day)
    length = timedelta(minutes=template.minutes)
    minute = template.start
    while minute + template.minutes <= template.end:
        start = _instant(midnight + timedelta(minutes=minute), zone)
        minute += template.minutes
        if start is None:
            continue  # this wall-clock time does not exist today (clocks went forward)
        yield GeneratedSlot(
            id=slot_id(template.schedule_id, start),
            schedule_id=template.schedule_id,
            start=start,
            end=start + length,
            delivery_channel=template.delivery_channel,
        )


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None if the clocks skipped it."""
    local = wall.replace(tzinfo=zone)  # fold=0: the first of two repeated times
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant
