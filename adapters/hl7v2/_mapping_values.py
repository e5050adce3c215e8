"""Values the mapping tables hold, and the constants their rows are checked against."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from adapters.domain import BookingStatus, Schedule, SlotStatus

ID_NAMESPACE = uuid.UUID("0c7d3f52-4f3e-4f0a-9a53-5b7a2f9e1d61")
#: adapters.errors names an ERR row may translate to (chapter 2.15.5 ERR, table 0357).
ERROR_NAMES = (
    "SlotUnavailable",
    "SlotNotFound",
    "SlotMismatch",
    "BookingNotFound",
    "BookingNotCancellable",
    "BookingRejected",
    "ServiceNotFound",
    "SupplierUnavailable",
    "SupplierProtocolError",
    "MappingError",
)


@dataclass(frozen=True, slots=True)
class ScheduleMap:
    schedule: Schedule
    pas_schedule: str
    pas_location: str | None
    #: line of the row in schedules.csv (0 when not read from a file), for reports
    line: int = 0


@dataclass(frozen=True, slots=True)
class StatusMap:
    booking: BookingStatus | None
    slot: SlotStatus
