"""What the front door does for each message: search, book, cancel, reschedule.

All of it goes through the booking service (routing, idempotency ledger,
versions, audit) exactly as the FHIR door does; nothing here knows which
adapter serves the service.

Duplicates (HL7 v2.5 chapter 2.10.1; fs_xti.md): a resent MSH-10 reaches the
ledger under scope ``hl7:<MSH-3>^<MSH-4>``; if it already made a booking (or
cancellation) the consumer gets the *original outcome again* (the SRR for that
appointment, MSA-3 saying so) and no second booking is made. If the resend's
content differs, a warning ERR (205) says the original outcome was repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapters.domain import (
    BookingRequest,
    Patient,
    Slot,
    SlotQuery,
    SlotStatus,
    SupportingDocument,
    utcnow,
)
from adapters.hl7_toolkit.er7 import Message
from adapters.hl7_toolkit.header import ErrorDetail
from gateway.errors import ApiError, ErrorKind
from gateway.hl7 import render
from gateway.hl7.call import Call
from gateway.hl7.inbound import BookingAsk, read_booking, read_patient, read_search
from gateway.hl7.refusals import (
    INFORMATION,
    WARNING,
    booking_only_notice,
    describe,
    missing,
)
from gateway.service import DuplicateRequest, Replay
from gateway.store import AppointmentVersion, Hl7Origin

#: HTTP-like audit status of a replayed duplicate: "already reported" (neither a new
#: booking, 201, nor a failure, >= 400), so reports never count it twice.
REPLAYED = 208
#: The ledger id of a reschedule's cancellation step (its booking step uses MSH-10 itself).
CANCEL_STEP = "#cancel"
#: dos_itk.md / fs_fhir_overrides.md: the document that travels with a booking is the
#: 111 CDA "Integrated Urgent Care Report"; ARQ-24 gives its id.
IUC_REPORT = {
    "type_system": "urn:oid:2.16.840.1.113883.2.1.3.2.4.18.17",
    "type_code": "POCD_MT200001GB02",
    "type_display": "Integrated Urgent Care Report",
    "content_type": "application/hl7-v3+xml",
}
#: Slot statuses looked at when finding the slot a booking names: a busy one still
#: reaches the ledger, so a resent booking is recognised after its slot was taken.
_FIND_STATUSES = frozenset({SlotStatus.FREE, SlotStatus.BUSY})


@dataclass(frozen=True, slots=True)
class Done:
    """One step's result, and whether it was the replay of an earlier message."""

    version: AppointmentVersion
    replay: Replay | None = None

    def notices(self) -> list[render.Notice]:
        if self.replay is None or self.replay.same_body:
            return []
        text = "this MSH-10 was used before for a different request; its outcome is repeated"
        return [(ErrorDetail("205", "DUPLICATE_REJECTED", text), WARNING)]


def _replay_text(done: Done) -> str:
    if done.replay is None:
        return ""
    return "duplicate MSH-10: the original outcome is repeated; nothing was done again"


async def search(call: Call) -> Message:
    """SQM^S25 -> SQR^S25 (search_slots.md: free slots of one service in a window)."""
    call.interaction = "slot_search"
    ask = read_search(call.envelope.message, call.reply.header.zone)
    service_id = call.service_id = call.tables.service_id(ask.service_code)
    query = SlotQuery(service_id=service_id, start_from=ask.start_from, start_to=ask.start_to)
    result = await call.service.search(query, call.context())
    count = min(len(result.slots), ask.limit)
    call.audit("slot_search", 200, service_id=service_id, slot_count=count)
    notices: list[render.Notice] = []
    if count == 0 and call.booking_only(service_id):
        notices.append((booking_only_notice(service_id), WARNING))
    return render.slots_answer(
        call.reply,
        result,
        service_code=ask.service_code,
        query_tag=ask.query_tag,
        limit=ask.limit,
        notices=notices,
    )


async def book(call: Call) -> Message:
    """SRM^S01 -> SRR^S01 (book_an_appointment.md)."""
    call.interaction = "book"
    ask = read_booking(call.envelope.message, call.reply.header.zone)
    done = await _book(call, ask, None)
    return _answer(call, done, ask, text=_replay_text(done), notices=done.notices())


async def cancel(call: Call) -> Message:
    """SRM^S04 -> SRR^S04 (cancel_an_appointment.md: status -> cancelled, slot freed)."""
    call.interaction = "cancel"
    ask = read_booking(call.envelope.message, call.reply.header.zone)
    if not ask.appointment_id:
        raise missing("ARQ-2 filler appointment id (SCH-2 of the SRR^S01)")
    done = await _cancel(call, ask.appointment_id, "")
    return _answer(call, done, ask, text=_replay_text(done), notices=done.notices())


async def reschedule(call: Call) -> Message:
    """SRM^S03/S02 -> SRR: book the new slot first, then cancel the old (sr_rebookcancel.md)."""
    call.interaction = "book"
    ask = read_booking(call.envelope.message, call.reply.header.zone)
    if not ask.appointment_id:
        raise missing("ARQ-2 filler appointment id of the appointment to move")
    old = await call.service.read(ask.appointment_id)
    new = await _book(call, ask, old)
    try:
        cancelled = await _cancel(call, old.appointment_id, CANCEL_STEP)
    except ApiError as error:
        # sr_rebookcancel.md: report both outcomes; the new booking stands.
        _, detail = describe(error, call.tables)
        call.audit(
            "cancel",
            error.kind.spec.status,
            service_id=old.booking.service_id,
            outcome=error.kind.spec.spine_code,
            appointment_id=old.appointment_id,
        )
        text = (
            f"new appointment {new.version.appointment_id} booked; the original appointment "
            f"{old.appointment_id} was NOT cancelled: {error.diagnostics}"
        )
        return _answer(call, new, ask, ack_code="AE", text=text, notices=[(detail, "E")])
    text = (
        f"new appointment {new.version.appointment_id} booked; original appointment "
        f"{old.appointment_id} cancelled"
    )
    status = cancelled.version.booking.status.value
    notice = ErrorDetail("0", "ORIGINAL_CANCELLED", f"{old.appointment_id}: {status}")
    notices = [*new.notices(), (notice, INFORMATION)]
    return _answer(call, new, ask, text=text, notices=notices)


def _answer(
    call: Call,
    done: Done,
    ask: BookingAsk,
    *,
    ack_code: str = "AA",
    text: str = "",
    notices: list[render.Notice],
) -> Message:
    return render.appointment_answer(
        call.reply,
        done.version,
        placer_id=ask.placer_id,
        service_code=ask.service_code or done.version.booking.service_id,
        patients=call.tables.patients,
        ack_code=ack_code,
        text=text,
        notices=notices,
    )


# -- steps --------------------------------------------------------------------------------


async def _service_id(call: Call, ask: BookingAsk, old: AppointmentVersion | None) -> str:
    """AIS-3 through services.csv; else the service the schedule was offered for; else
    the moved appointment's service."""
    if ask.service_code:
        return call.tables.service_id(ask.service_code)
    if ask.schedule_id:
        home = await call.generation.service.locate("", ask.schedule_id)
        if home is not None and home.service_id:
            return home.service_id
    if old is not None:
        return old.booking.service_id
    raise missing("AIS-3 service code")


async def _book(call: Call, ask: BookingAsk, old: AppointmentVersion | None) -> Done:
    service_id = call.service_id = await _service_id(call, ask, old)
    if ask.start is None or ask.end is None:
        raise missing("ARQ-11 requested start^end")
    patient: Patient = (
        old.booking.patient
        if old is not None and ask.pid is None
        else read_patient(ask.pid, call.tables)
    )
    description = ask.description or (old.booking.description if old else "")
    if not description:
        raise missing("NTE-3 reason for the appointment")
    slot = await _find_slot(call, service_id, ask, (ask.start, ask.end))
    request = BookingRequest(
        slot_id=slot.identifier,
        start=ask.start,
        end=ask.end,
        description=description,
        patient=patient,
        document=_document(ask, old),
        cross_border_reason=ask.reason or None,
    )
    try:
        version = await call.service.book(
            request,
            call.context(),
            scope=call.scope,
            client_request_id=call.request_id(),
            schedule_id=slot.schedule_id,
            moving=old,
        )
    except DuplicateRequest as dup:
        version = await call.service.read(dup.replay.appointment_id, dup.replay.version)
        # Also on a resend: a gateway that died before recording it records it now.
        await _record_origin(call, ask, version)
        call.audit(
            "book",
            REPLAYED,
            service_id=service_id,
            outcome="replayed",
            appointment_id=version.appointment_id,
        )
        return Done(version, dup.replay)
    await _record_origin(call, ask, version)
    call.audit(
        "book",
        201,
        service_id=version.booking.service_id,
        outcome="booked",
        appointment_id=version.appointment_id,
    )
    return Done(version)


async def _record_origin(call: Call, ask: BookingAsk, version: AppointmentVersion) -> None:
    """Remember that this consumer made the booking, with the SCH-1 placer id its SRR
    carries, so supplier-side changes reach it by SIU (gateway/hl7/notify.py)."""
    origin = Hl7Origin(
        appointment_id=version.appointment_id,
        sending_application=call.envelope.application,
        sending_facility=call.envelope.facility,
        placer_id=ask.placer_id,
        recorded_at=utcnow(),
    )
    await call.service.store.record_hl7_origin(origin)


def _document(ask: BookingAsk, old: AppointmentVersion | None) -> SupportingDocument | None:
    if ask.document_id:
        return SupportingDocument(identifier=ask.document_id, **IUC_REPORT)
    return old.booking.document if old is not None else None


async def _find_slot(
    call: Call, service_id: str, ask: BookingAsk, times: tuple[datetime, datetime]
) -> Slot:
    """The slot that starts and ends at ARQ-11 on the ARQ-5 schedule, found by a search
    of that instant (HL7 v2 names slots by resource and time, not by id)."""
    start, end = times
    query = SlotQuery(
        service_id=service_id, statuses=_FIND_STATUSES, start_from=start, start_to=start
    )
    # Every slot at that time, released to this consumer or not: the booking service then
    # refuses one the policy keeps back naming its rule, instead of "no such slot".
    result = await call.service.search(query, call.context(), released_only=False)
    found = sorted(
        (
            s
            for s in result.slots
            if s.start == start
            and s.end == end
            and (not ask.schedule_id or s.schedule_id == ask.schedule_id)
        ),
        key=lambda s: (s.status is not SlotStatus.FREE, s.schedule_id, s.id),
    )
    if not found:
        where = f" on schedule {ask.schedule_id}" if ask.schedule_id else ""
        raise ApiError(
            ErrorKind.REFERENCE_NOT_FOUND,
            f"no slot of service {service_id} starts and ends at the ARQ-11 times{where}; "
            "search for slots again",
        )
    return found[0]


async def _cancel(call: Call, appointment_id: str, step: str) -> Done:
    call.interaction = "cancel"
    current = await call.service.read(appointment_id)
    # Only an id the store knows is audited: ARQ-2 as sent may hold anything.
    call.appointment_id = appointment_id
    service_id = call.service_id = current.booking.service_id
    try:
        version = await call.service.cancel(
            appointment_id,
            current.version,
            call.context(step),
            lambda _: None,
            scope=call.scope,
            client_request_id=call.request_id(step),
        )
    except DuplicateRequest as dup:
        version = await call.service.read(dup.replay.appointment_id, dup.replay.version)
        call.audit(
            "cancel",
            REPLAYED,
            service_id=service_id,
            outcome="replayed",
            appointment_id=appointment_id,
        )
        return Done(version, dup.replay)
    call.audit(
        "cancel", 200, service_id=service_id, outcome="cancelled", appointment_id=appointment_id
    )
    return Done(version)
