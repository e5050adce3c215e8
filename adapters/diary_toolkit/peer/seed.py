"""The diary peers' own world: their clinics, clinicians and the sessions their slots come from.

Supplier vocabulary throughout (clinic codes, staff codes, grades, F/M sexes,
F2F/TEL channels, as the REST peer sends them; the SOAP peer renames them); the
gateway learns what they mean from ``mappings/rest_diary/demo``. Slot ids are
GUIDs derived from clinic, clinician and local start, so re-seeding an
existing diary adds only what is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SLOT_NAMESPACE = uuid.UUID("a3c1e6b0-5d2f-5e7a-8b9c-0d1e2f3a4b5c")


@dataclass(frozen=True, slots=True)
class Clinic:
    code: str
    name: str
    site_code: str
    site_name: str
    address_lines: tuple[str, ...]
    town: str
    postcode: str


@dataclass(frozen=True, slots=True)
class Clinician:
    staff_code: str
    clinic_code: str
    title: str
    forename: str
    surname: str
    grade: str
    sex: str
    sds_user_id: str
    channel: str
    minutes: int
    #: Session hours, local wall clock.
    first_hour: int = 8
    last_hour: int = 20


CLINICS: tuple[Clinic, ...] = (
    Clinic(
        "MIU-MAIN",
        "Minor Injuries (main building)",
        "FB-HOSP",
        "Fernbrook Community Hospital",
        ("Millstream Lane",),
        "Fernbrook",
        "FB1 4QT",
    ),
    Clinic(
        "MIU-ANNEX",
        "Minor Injuries (annex)",
        "FB-ANNEX",
        "Fernbrook Hospital Annex",
        ("2 Millstream Lane",),
        "Fernbrook",
        "FB1 4QU",
    ),
    Clinic(
        "TEL-OOH",
        "Out of hours telephone clinic",
        "FB-HUB",
        "Fernbrook Clinical Hub",
        ("Unit 3 Kestrel Court", "Harrowgate Road"),
        "Fernbrook",
        "FB2 7LD",
    ),
)

CLINICIANS: tuple[Clinician, ...] = (
    Clinician("STF001", "MIU-MAIN", "Dr", "Adaeze", "Okafor", "GP", "F", "555020000101", "F2F", 10),
    Clinician("STF002", "MIU-MAIN", "Mr", "Tomas", "Reyes", "ANP", "M", "555020000102", "F2F", 10),
    Clinician(
        "STF003", "MIU-ANNEX", "Ms", "Priya", "Nandra", "ECP", "F", "555020000103", "F2F", 20
    ),
    Clinician("STF004", "TEL-OOH", "Dr", "Owen", "Pryce", "GP", "M", "555020000104", "TEL", 15),
)


@dataclass(frozen=True, slots=True)
class SeedSlot:
    id: str
    clinic_code: str
    staff_code: str
    start_local: str
    start_utc: str
    minutes: int
    channel: str


def local_minute(wall: datetime) -> str:
    return wall.strftime("%Y-%m-%dT%H:%M")


def utc_stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def slots(zone: ZoneInfo, first_day: date, days: int) -> Iterator[SeedSlot]:
    """Every session slot of every clinician for ``days`` local days from ``first_day``."""
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for who in CLINICIANS:
            yield from _day(who, zone, day)


def _day(who: Clinician, zone: ZoneInfo, day: date) -> Iterator[SeedSlot]:
    wall = datetime(day.year, day.month, day.day, who.first_hour)
    close = datetime(day.year, day.month, day.day, who.last_hour)
    while wall + timedelta(minutes=who.minutes) <= close:
        instant = wall.replace(tzinfo=zone).astimezone(UTC)
        # A wall time the clocks skipped does not exist; the diary offers no slot then.
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            key = f"{who.clinic_code}/{who.staff_code}/{local_minute(wall)}"
            yield SeedSlot(
                id=str(uuid.uuid5(SLOT_NAMESPACE, key)),
                clinic_code=who.clinic_code,
                staff_code=who.staff_code,
                start_local=local_minute(wall),
                start_utc=utc_stamp(instant),
                minutes=who.minutes,
                channel=who.channel,
            )
        wall += timedelta(minutes=who.minutes)
