"""Scheduling messages of this dialect (HL7 v2.5 chapter 10), built and read.

- ``SQM^S25`` asks for open slots (QRD-9 ``SLOTS``; QRF-1 schedule codes,
  QRF-2/3 the start window, QRF-5 filler status codes) or for one
  appointment (QRD-9 ``APPT``; ARQ-1 placer id, ARQ-2 filler id);
- ``SQR^S25`` answers with one SCH group per slot or appointment;
- ``SRM^S01`` requests a booking (ARQ-1 placer id, ARQ-5 schedule code,
  ARQ-11 slot start^end), ``SRM^S04`` a cancellation (ARQ-1/ARQ-2);
- ``SRR^S01``/``SRR^S04`` and the unsolicited ``SIU^S12..S26`` carry one SCH group.

An SCH group is SCH, TQ1 (start TQ1-7, end TQ1-8), NTE (description), PID,
then RGS with AIS (appointment type), AIG (schedule), AIL (location) and AIP
(staff and staff type). Codes here are the PAS's own; the adapter maps them.
"""

from __future__ import annotations

from adapters.hl7_toolkit._scheduling_build import (
    SIU_TRIGGERS,
    appointment_query,
    booking_request,
    cancel_request,
    sch_group,
    slot_query,
    unsolicited,
)
from adapters.hl7_toolkit._scheduling_read import groups, read_arq, read_group, read_slot_query
from adapters.hl7_toolkit._scheduling_types import (
    APPOINTMENT_QUERY,
    SLOTS_QUERY,
    ArqRequest,
    Booked,
    SlotQuery,
    Staff,
)

__all__ = [
    "APPOINTMENT_QUERY",
    "SIU_TRIGGERS",
    "SLOTS_QUERY",
    "ArqRequest",
    "Booked",
    "SlotQuery",
    "Staff",
    "appointment_query",
    "booking_request",
    "cancel_request",
    "groups",
    "read_arq",
    "read_group",
    "read_slot_query",
    "sch_group",
    "slot_query",
    "unsolicited",
]
