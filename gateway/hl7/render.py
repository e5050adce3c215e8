"""Answers to a legacy consumer: SQR^S25, SRR^S01/S02/S03/S04 and ACK (HL7 v2.5 ch. 2, 10).

SCH groups are built by the HL7 v2 toolkit (``scheduling.sch_group``), the same
groups the reference PAS answers with, so a consumer written against a PAS
reads ours unchanged. In them:

- SCH-5/AIG-3: the gateway's schedule id (send it back in ARQ-5 to book);
- SCH-8/AIS-3: the service code, as the consumer sent it;
- TQ1-7/TQ1-8: start and end, local time with offset;
- SCH-25: ``Open`` for a free slot, ``Booked``/``Cancelled`` for appointments;
- AIL-3: the location id; AIP: the practitioner and SDS job role code;
- NTE-3: the delivery channel of a slot (fs_deliverychannel.md, left out when
  the provider does not say) or the reason of an appointment;
- SCH-1: the consumer's placer id; SCH-2: the gateway's appointment id (send it
  in ARQ-2 to cancel or move the appointment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters import errors as adapter_errors
from adapters.domain import BookingStatus, Slot, SlotSearchResult
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.er7 import Message, Segment, comp, segment
from adapters.hl7_toolkit.header import ErrorDetail, Header, err, msa, msh
from adapters.hl7_toolkit.patients import PatientTables
from adapters.hl7_toolkit.pid import to_pid
from gateway.hl7.refusals import ERROR
from gateway.store import AppointmentVersion

OPEN = "Open"
_STATUS = {
    BookingStatus.BOOKED: "Booked",
    BookingStatus.CANCELLED: "Cancelled",
    BookingStatus.ENTERED_IN_ERROR: "Deleted",
    BookingStatus.NOSHOW: "Noshow",
}

#: (detail, ERR-4 severity)
Notice = tuple[ErrorDetail, str]


@dataclass(frozen=True, slots=True)
class Reply:
    """Everything an answer's MSH and MSA need."""

    header: Header
    trigger: str
    answered: str
    control_id: str
    now: datetime

    def msh(self, code: str, structure: str) -> Segment:
        return msh(self.header, code, self.trigger, structure, self.control_id, self.now)


def acknowledgement(
    reply: Reply, ack_code: str, notices: Sequence[Notice], text: str = ""
) -> Message:
    """``ACK^trigger^ACK`` with MSA-1 ``ack_code`` and one ERR per notice (chapter 2.14.1)."""
    head = [reply.msh("ACK", "ACK"), msa(ack_code, reply.answered, text)]
    return Message((*head, *(err(d, s) for d, s in notices)))


def slots_answer(
    reply: Reply,
    result: SlotSearchResult,
    *,
    service_code: str,
    query_tag: str,
    limit: int,
    notices: Sequence[Notice] = (),
) -> Message:
    """``SQR^S25``: MSA, ERR notices, QAK (OK/NF), then one SCH group per slot."""
    slots = result.slots[: max(limit, 0)]
    head = [
        reply.msh("SQR", "SQR_S25"),
        msa("AA", reply.answered),
        *(err(d, s) for d, s in notices),
        segment("QAK", query_tag, "OK" if slots else "NF"),
    ]
    groups: list[Segment] = []
    for slot in slots:
        groups += scheduling.sch_group(_slot_item(slot, result, service_code), reply.header.zone)
    return Message((*head, *groups))


def _slot_item(slot: Slot, result: SlotSearchResult, service_code: str) -> scheduling.Booked:
    schedule = result.schedules.get(slot.schedule_id)
    staff: tuple[scheduling.Staff, ...] = ()
    if schedule is not None and schedule.practitioner_id in result.practitioners:
        who = result.practitioners[schedule.practitioner_id]
        role = result.roles.get(schedule.practitioner_role_id or "")
        staff = (
            scheduling.Staff(
                who.id,
                who.name.family or "",
                who.name.given[0] if who.name.given else "",
                who.name.prefix[0] if who.name.prefix else "",
                role.role_code if role else "",
            ),
        )
    return scheduling.Booked(
        schedule=slot.schedule_id,
        start=slot.start,
        end=slot.end,
        status=OPEN,
        location=(schedule.location_id or "") if schedule else "",
        appointment_type=service_code,
        description=slot.delivery_channel.value if slot.delivery_channel else "",
        staff=staff,
    )


def appointment_answer(
    reply: Reply,
    version: AppointmentVersion,
    *,
    placer_id: str,
    service_code: str,
    patients: PatientTables,
    ack_code: str = "AA",
    text: str = "",
    notices: Sequence[Notice] = (),
) -> Message:
    """``SRR^trigger``: MSA, ERR notices, and the appointment's SCH group."""
    head = [
        reply.msh("SRR", "SRR_S01"),
        msa(ack_code, reply.answered, text),
        *(err(d, s) for d, s in notices),
    ]
    group = appointment_group(version, placer_id, service_code, patients, reply.header)
    return Message((*head, *group))


def appointment_group(
    version: AppointmentVersion,
    placer_id: str,
    service_code: str,
    patients: PatientTables,
    header: Header,
) -> list[Segment]:
    """The appointment's SCH group as this door sends it (in an SRR, SQR or SIU): SCH-1
    the consumer's placer id, SCH-2 our appointment id, SCH-25 its status, PID the patient."""
    group = scheduling.sch_group(
        _appointment_item(version, placer_id, service_code, patients), header.zone
    )
    group[0] = _ids(group[0], placer_id, version.appointment_id, header)
    return group


def _appointment_item(
    version: AppointmentVersion, placer_id: str, service_code: str, patients: PatientTables
) -> scheduling.Booked:
    booking = version.booking
    try:
        pid: Segment | None = to_pid(booking.patient, patients)
    except adapter_errors.MappingError:
        pid = None  # the tables cannot say this patient's identifier or sex: left out
    return scheduling.Booked(
        schedule=booking.slot.schedule_id,
        start=booking.start,
        end=booking.end,
        status=_STATUS[booking.status],
        placer_id=placer_id,
        filler_id=version.appointment_id,
        appointment_type=service_code,
        description=booking.description,
        pid=pid,
    )


def _ids(sch: Segment, placer_id: str, appointment_id: str, header: Header) -> Segment:
    """SCH-1/SCH-2 under the right assigning applications: the consumer's and ours."""
    fields = list(sch.fields)
    fields[1] = comp(placer_id, header.receiving_application) if placer_id else ""
    fields[2] = comp(appointment_id, header.sending_application)
    for contact in (16, 20):  # filler contact person / entered by: this gateway
        if contact < len(fields):
            fields[contact] = comp(header.sending_application)
    return Segment(tuple(fields), sch.delimiters)


def error_notice(detail: ErrorDetail) -> Notice:
    return (detail, ERROR)
