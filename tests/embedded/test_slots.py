"""Slots are generated from wall-clock templates into correct UTC instants."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from adapters.domain import SlotQuery
from adapters.embedded import EmbeddedAdapter, load_directory
from adapters.embedded._templates import (
    SLOT_NAMESPACE,
    GeneratedSlot,
    SlotTemplate,
    generate,
    parse_clock,
    parse_weekdays,
)
from tests.contract.builders import call_context
from tests.embedded.helpers import DEMO, UTC_SERVICE
from tests.embedded.pg import Where

LONDON = ZoneInfo("Europe/London")
EVERY_DAY = frozenset(range(7))


def _template(start: str, end: str, minutes: int, schedule: str = "s1") -> SlotTemplate:
    return SlotTemplate(schedule, EVERY_DAY, parse_clock(start), parse_clock(end), minutes)


def _z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _assert_back_to_back(slots: list[GeneratedSlot], minutes: int) -> None:
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=minutes)
    for before, after in pairwise(slots):
        assert before.end <= after.start, "slots overlap"


@pytest.mark.parametrize(
    ("day", "first_utc", "last_end_utc"),
    [
        (date(2025, 3, 29), "2025-03-29T08:00", "2025-03-29T20:00"),  # GMT
        (date(2025, 3, 30), "2025-03-30T07:00", "2025-03-30T19:00"),  # BST from 01:00 UTC
        (date(2025, 10, 25), "2025-10-25T07:00", "2025-10-25T19:00"),  # BST
        (date(2025, 10, 26), "2025-10-26T08:00", "2025-10-26T20:00"),  # GMT again
    ],
)
def test_daytime_slots_follow_local_time_across_dst(
    day: date, first_utc: str, last_end_utc: str
) -> None:
    """08:00-20:00 London is 08:00Z in winter and 07:00Z in summer, either side of a change."""
    slots = list(generate([_template("08:00", "20:00", 10)], LONDON, day, 1))
    assert len(slots) == 72
    assert slots[0].start == _z(first_utc)
    assert slots[-1].end == _z(last_end_utc)
    _assert_back_to_back(slots, 10)


def test_spring_forward_skips_the_missing_hour() -> None:
    """On the spring-forward night the non-existent 01:00-02:00 local starts are skipped."""
    slots = list(generate([_template("00:00", "04:00", 30)], LONDON, date(2025, 3, 30), 1))
    starts = [s.start for s in slots]
    expected = ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]
    assert starts == [_z(f"2025-03-30T{t}") for t in expected]
    _assert_back_to_back(slots, 30)


def test_fall_back_takes_the_repeated_hour_once() -> None:
    """On the fall-back night the repeated local hour yields one set of slots, no overlaps."""
    slots = list(generate([_template("00:00", "04:00", 30)], LONDON, date(2025, 10, 26), 1))
    starts = [s.start for s in slots]
    expected = [
        "2025-10-25T23:00", "2025-10-25T23:30",  # 00:00, 00:30 BST
        "2025-10-26T00:00", "2025-10-26T00:30",  # 01:00, 01:30 BST (first occurrence)
        "2025-10-26T02:00", "2025-10-26T02:30",  # 02:00, 02:30 GMT
        "2025-10-26T03:00", "2025-10-26T03:30",  # 03:00, 03:30 GMT
    ]  # fmt: skip
    assert starts == [_z(t) for t in expected]
    _assert_back_to_back(slots, 30)


def test_slot_ids_are_deterministic_uuid5() -> None:
    """The same template always yields the same slot ids, distinct per schedule."""
    day = date(2025, 6, 2)
    first = list(generate([_template("08:00", "09:00", 10, "a")], LONDON, day, 1))
    again = list(generate([_template("08:00", "09:00", 10, "a")], LONDON, day, 1))
    other = list(generate([_template("08:00", "09:00", 10, "b")], LONDON, day, 1))
    assert [s.id for s in first] == [s.id for s in again]
    assert not {s.id for s in first} & {s.id for s in other}
    expected = uuid.uuid5(SLOT_NAMESPACE, f"a/{first[0].start.isoformat()}")
    assert first[0].id == str(expected)


def test_weekdays_select_the_days() -> None:
    """Only the template's weekdays get slots; ranges may wrap past Sunday."""
    assert parse_weekdays("mon-sun") == EVERY_DAY
    assert parse_weekdays("mon,tue") == {0, 1}
    assert parse_weekdays("Mon-Fri, Sun") == {0, 1, 2, 3, 4, 6}
    assert parse_weekdays("fri-mon") == {4, 5, 6, 0}
    weekend = SlotTemplate("s", parse_weekdays("sat-sun"), 600, 620, 10)
    days = {s.start.date() for s in generate([weekend], LONDON, date(2025, 6, 2), 7)}
    assert days == {date(2025, 6, 7), date(2025, 6, 8)}


@pytest.mark.parametrize("text", ["8", "08:5", "25:00", "24:01", "08:60", "ab:cd", ""])
def test_bad_clock_times_are_refused(text: str) -> None:
    """Times that are not HH:MM within a day raise ValueError."""
    with pytest.raises(ValueError):
        parse_clock(text)


async def test_adapter_stores_dst_slots_as_utc(where: Where) -> None:
    """Through the adapter, UTC service slots on the spring-forward day start at 07:00Z."""
    adapter = await EmbeddedAdapter.open(
        "dst",
        where,
        load_directory(DEMO),
        zone=LONDON,
        horizon_days=4,
        clock=lambda: _z("2025-03-28T12:00"),
    )
    try:
        query = SlotQuery(
            service_id=UTC_SERVICE,
            start_from=_z("2025-03-29T00:00"),
            start_to=_z("2025-03-30T23:59"),
        )
        result = await adapter.search_slots(query, call_context())
    finally:
        await adapter.close()
    by_day: dict[date, list[datetime]] = {}
    for slot in result.slots:
        by_day.setdefault(slot.start.date(), []).append(slot.start)
    assert min(by_day[date(2025, 3, 29)]) == _z("2025-03-29T08:00")
    assert min(by_day[date(2025, 3, 30)]) == _z("2025-03-30T07:00")
    assert len(by_day[date(2025, 3, 30)]) == 144  # two schedules x 72
