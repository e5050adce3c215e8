"""Scheduling message values (chapter 10), in the PAS's own codes; see ``scheduling``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapters.hl7_toolkit.er7 import Segment

SLOTS_QUERY = "SLOTS"
APPOINTMENT_QUERY = "APPT"


@dataclass(frozen=True, slots=True)
class Staff:
    id: str
    family: str = ""
    given: str = ""
    prefix: str = ""
    staff_type: str = ""


@dataclass(frozen=True, slots=True)
class Booked:
    """One SCH group, in the PAS's own codes (times already converted to UTC)."""

    schedule: str
    start: datetime
    end: datetime
    status: str
    placer_id: str = ""
    filler_id: str = ""
    location: str = ""
    appointment_type: str = ""
    description: str = ""
    staff: tuple[Staff, ...] = ()
    pid: Segment | None = None


@dataclass(frozen=True, slots=True)
class SlotQuery:
    schedules: tuple[str, ...]
    start_from: datetime | None
    start_to: datetime | None
    statuses: tuple[str, ...]
    query_id: str = ""
    limit: int = 5000


@dataclass(frozen=True, slots=True)
class ArqRequest:
    """What an SRM carries in ARQ (chapter 10.6.1) plus its NTE and PID."""

    placer_id: str
    filler_id: str = ""
    schedule: str = ""
    start: datetime | None = None
    end: datetime | None = None
    description: str = ""
    requester: str = ""
    pid: Segment | None = None
    extra: dict[str, str] = field(default_factory=dict)
