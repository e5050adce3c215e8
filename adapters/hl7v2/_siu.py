"""Unsolicited SIU messages (HL7 v2.5 chapter 10.5) turned into booking changes.

Accepted triggers: S12 new, S13 rescheduled, S14 modified, S15 cancelled,
S17 deleted, S26 no-show. The status is SCH-25 through ``filler_statuses.csv``,
except that S15 always means cancelled, S17 entered-in-error and S26 noshow (the trigger
is the PAS's statement of what happened; SCH-25 may lag). The schedule is
SCH-5, else the first AIL location through ``schedules.csv``; times TQ1-7/8.
Pure functions, no I/O: the listener and the sample test use the same code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters import errors
from adapters.domain import Booking, BookingStatus, Slot, SlotStatus
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.er7 import Er7Error, Message, parse
from adapters.hl7_toolkit.gate import structure_problem
from adapters.hl7_toolkit.pid import from_pid
from adapters.hl7v2.mapping import Mappings, ScheduleMap

ACCEPTED = ("S12", "S13", "S14", "S15", "S17", "S26")
_FORCED = {
    "S15": BookingStatus.CANCELLED,
    "S17": BookingStatus.ENTERED_IN_ERROR,
    "S26": BookingStatus.NOSHOW,
}
_DEFAULT_STATUS = {
    "S12": "Booked",
    "S13": "Booked",
    "S14": "Booked",
    "S15": "Cancelled",
    "S17": "Deleted",
    "S26": "Noshow",
}
SLOT_NAMESPACE = uuid.UUID("3b8a1f44-2f7c-4d55-8f0e-6a2c9d41b7e3")


class Rejected(Exception):
    """An inbound message we will not act on; ``ack_code``/``hl7_code`` go in the ACK."""

    def __init__(self, reason: str, ack_code: str = "AR", hl7_code: str = "200") -> None:
        super().__init__(reason)
        self.reason, self.ack_code, self.hl7_code = reason, ack_code, hl7_code


@dataclass(frozen=True, slots=True)
class Change:
    trigger: str
    control_id: str
    record: sched.Booked
    schedule: ScheduleMap
    status: BookingStatus
    slot_status: SlotStatus


def slot_uuid(adapter: str, schedule: str, start: datetime) -> str:
    """The gateway's id of the PAS slot (schedule code, start): the same from search and SIU."""
    return str(uuid.uuid5(SLOT_NAMESPACE, f"{adapter}|{schedule}|{start.isoformat()}"))


def read_change(text: str, mappings: Mappings, zone: ZoneInfo, *, gate: bool = True) -> Change:
    """Validate and map one inbound message; raises ``Rejected`` with a clear reason."""
    try:
        message = parse(text)
    except Er7Error as exc:
        raise Rejected(f"not an HL7 v2 message: {exc}", "AR", "100") from None
    code, trigger, _ = message.message_type
    if code != "SIU":
        raise Rejected(f"{code}^{trigger} is not an SIU message", "AR", "200")
    if trigger not in ACCEPTED:
        raise Rejected(
            f"SIU^{trigger} is not supported (accepted: {', '.join(ACCEPTED)})", "AR", "201"
        )
    if gate:
        problem = structure_problem(message.to_er7())
        if problem:
            raise Rejected(problem, "AR", "203" if "version" in problem else "100")
    return _map(message, trigger, mappings, zone)


def _map(message: Message, trigger: str, mappings: Mappings, zone: ZoneInfo) -> Change:
    groups = sched.groups(message)
    if not groups:
        raise Rejected("no SCH segment", "AE", "101")
    try:
        record = sched.read_group(groups[0], zone)
    except ValueError as exc:
        raise Rejected(f"SCH group unreadable: {exc}", "AE", "102") from None
    if not record.filler_id:
        raise Rejected("SCH-2 filler appointment id is missing", "AE", "101")
    try:
        schedule = (
            mappings.schedule(record.schedule)
            if record.schedule
            else mappings.schedule_at(record.location)
        )
        status_code = record.status or _DEFAULT_STATUS[trigger]
        mapped = mappings.status(status_code)
        if record.appointment_type:
            mappings.channel(record.appointment_type)
    except errors.MappingError as exc:
        raise Rejected(exc.message, "AE", "103") from None
    status = _FORCED.get(trigger) or mapped.booking
    if status is None:
        raise Rejected(f"filler status '{status_code}' is not a booking status", "AE", "103")
    return Change(trigger, message.control_id, record, schedule, status, mapped.slot)


def to_booking(
    change: Change,
    adapter: str,
    mappings: Mappings,
    known: Booking | None,
    now: datetime,
    identifier_defaults: tuple[str, str] = ("", ""),
) -> Booking:
    """The booking after ``change``: ours keeps its patient and documents; a desk one maps PID.

    ``identifier_defaults`` (authority, type) fill in what a PID-3 leaves empty.
    """
    record = change.record
    channel = mappings.channel(record.appointment_type) if record.appointment_type else None
    slot_id = slot_uuid(adapter, change.schedule.pas_schedule, record.start)
    slot = Slot(
        id=slot_id,
        identifier=slot_id,
        schedule_id=change.schedule.schedule.id,
        status=change.slot_status,
        start=record.start,
        end=record.end,
        delivery_channel=channel,
    )
    if known is not None:
        return known.model_copy(
            update={"status": change.status, "slot": slot, "start": record.start, "end": record.end}
        )
    return Booking(
        supplier_ref=record.filler_id,
        status=change.status,
        slot=slot,
        service_id=change.schedule.schedule.service_id,
        start=record.start,
        end=record.end,
        description=record.description or "Booked at the supplier",
        patient=from_pid(record.pid, mappings, identifier_defaults),
        created=now,
    )
