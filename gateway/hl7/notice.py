"""The SIU a legacy consumer gets when a booking it made changes at the supplier.

HL7 v2.5 chapter 10.5 (unsolicited filler messages), chosen from the booking
before and after the change (``trigger_for``; docs/spec-choices.md):

- S15 cancelled, S17 deleted (entered-in-error), S26 the patient did not show up;
- S13 rescheduled when the start or end moved; S14 modified otherwise (e.g. the
  reason, or a cancelled booking reinstated).

The SCH group is the one this door's SRR gave (``render.appointment_group``):
SCH-1 the consumer's placer id (ARQ-1 of its SRM), SCH-2 our appointment id (what
it sends back in ARQ-2), SCH-25 the status, PID the stored patient. MSH-10 is
derived from the appointment id and version and MSH-7 is the version's time, so
every resend of one notice is the same message byte for byte and a consumer
recognises it (chapter 2.10.1).
"""

from __future__ import annotations

from adapters.domain import Booking, BookingStatus
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.er7 import Message
from adapters.hl7_toolkit.header import Header
from adapters.hl7_toolkit.values import short_id
from gateway.hl7 import render
from gateway.hl7.tables import Tables
from gateway.store import AppointmentVersion, Hl7Origin

_BY_STATUS = {
    BookingStatus.CANCELLED: "S15",
    BookingStatus.ENTERED_IN_ERROR: "S17",
    BookingStatus.NOSHOW: "S26",
}


def trigger_for(before: Booking | None, after: Booking) -> str:
    """The SIU event that tells the change from ``before`` to ``after``."""
    if after.status is not (before.status if before else None) and after.status in _BY_STATUS:
        return _BY_STATUS[after.status]
    if before is not None and (before.start, before.end) != (after.start, after.end):
        return "S13"
    return "S14"


def control_id(appointment_id: str, version: int) -> str:
    """MSH-10 of the notice of ``version``: the same on every resend."""
    return short_id(f"siu|{appointment_id}|{version}")


def notice(
    header: Header,
    origin: Hl7Origin,
    version: AppointmentVersion,
    before: AppointmentVersion | None,
    tables: Tables,
) -> Message:
    """``SIU^S13/S14/S15/S17/S26`` for ``version``, from this door (``header``) to ``origin``."""
    to_consumer = Header(
        header.sending_application,
        header.sending_facility,
        origin.sending_application,
        origin.sending_facility,
        "2.5",
        header.processing_id,
        header.zone,
    )
    booking = version.booking
    group = render.appointment_group(
        version,
        origin.placer_id,
        tables.consumer_code(booking.service_id),
        tables.patients,
        to_consumer,
    )
    trigger = trigger_for(before.booking if before else None, booking)
    return scheduling.unsolicited(
        to_consumer,
        trigger,
        control_id(version.appointment_id, version.version),
        version.last_modified,
        group,
    )
