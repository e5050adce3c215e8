"""Reading a legacy consumer's message into domain values (HL7 v2.5 chapter 10).

The dialect is the one the reference PAS serves (``adapters/hl7v2/peer``), seen
from the consumer's side, plus where the service travels:

- ``SQM^S25``: QRF-1 the service code (one), QRF-2/QRF-3 the start window,
  QRD-4 the query tag, QRD-7 the most slots wanted;
- ``SRM^S01``: ARQ-1 placer id, ARQ-5 the schedule id the SQR gave (else
  AIG-3), ARQ-11 start^end, AIS-3 the service code, NTE-3 the reason, PID,
  ARQ-24 (placer order number) the UUID of the CDA referral the consumer sends
  with the booking (dos_itk.md: the consumer makes the CDA id and puts it in
  the booking);
- ``SRM^S04``: ARQ-2 the appointment id the SRR gave (SCH-2);
- ``SRM^S03``/``S02``: ARQ-2 the appointment to move, and the new slot as in S01.

Service codes are the consumer's local codes (``services.csv``) or the national
service id itself. Nothing here logs: values are patient data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters import errors as adapter_errors
from adapters.domain import Patient
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.er7 import Er7Error, Message, Segment, decode, parse
from adapters.hl7_toolkit.frames import Heading, heading
from adapters.hl7_toolkit.pid import from_pid
from adapters.nhs import is_valid_nhs_number
from gateway.errors import ApiError, ErrorKind
from gateway.hl7.refusals import Refusal, malformed, missing, unmapped
from gateway.hl7.tables import Tables

#: CareConnect-NHSNumberVerificationStatus-1 "02": number present but not traced. Used when
#: PID-32 is empty: a legacy consumer that does not say it traced the number did not.
UNTRACED = "02"


@dataclass(frozen=True, slots=True)
class Envelope:
    """MSH as read: who sent what (MSH-3, MSH-4, MSH-9, MSH-10, MSH-12).

    ``problem`` is set when the MSH could be read but the rest could not (bytes
    that are not UTF-8, a segment with no valid name): the message is answered
    ``AR`` with that ERR, and ``message`` then holds nothing but its MSH.
    """

    message: Message
    code: str
    trigger: str
    control_id: str
    application: str
    facility: str
    version: str
    problem: Refusal | None = None

    @property
    def kind(self) -> str:
        return f"{self.code}^{self.trigger}"


def read_envelope(payload: bytes) -> Envelope | None:
    """The frame's MSH, or None when there is no MSH-10 to answer (not HL7 at all)."""
    head = heading(payload)
    if head is None:
        return None
    try:
        message = decode(payload)
    except Er7Error as exc:
        return _unreadable_body(head, payload, exc)
    msh = message.msh
    if not message.control_id:
        return None
    return Envelope(
        message,
        msh.get(9, 1),
        msh.get(9, 2),
        message.control_id,
        msh.get(3, 1),
        msh.get(4, 1),
        message.version,
    )


def _unreadable_body(head: Heading, payload: bytes, exc: Er7Error) -> Envelope:
    """What the toolkit's ``heading`` read of an MSH whose message is unreadable."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        # Chapter 2.14.9.18: this door reads UTF-8 (a superset of the v2 default, ASCII).
        problem = Refusal("102", f"the message is not valid UTF-8 text (byte {cause.start})")
    else:
        problem = Refusal("100", f"the message cannot be read as HL7 v2: {exc}")
    # Latin-1 maps each byte to one character, so the delimiters heading() checked stay
    # five distinct ones and this one-segment parse cannot fail.
    first = payload.replace(b"\n", b"\r").partition(b"\r")[0]
    message = parse(first.decode("latin-1"))
    return Envelope(
        message,
        head.code,
        head.trigger,
        head.control_id,
        head.application,
        head.facility,
        head.version,
        problem,
    )


def check_envelope(envelope: Envelope) -> None:
    """HL7 v2.5 chapter 2.9.2 checks a receiver makes before reading the body."""
    if envelope.problem is not None:
        raise envelope.problem
    if not envelope.version.startswith("2."):
        raise Refusal("203", f"HL7 version '{envelope.version[:10]}' is not supported")
    if not envelope.facility:
        raise missing("MSH-4 sending facility")
    if not envelope.application:
        raise missing("MSH-3 sending application")


@dataclass(frozen=True, slots=True)
class SearchAsk:
    service_code: str
    start_from: datetime | None
    start_to: datetime | None
    query_tag: str
    limit: int


def read_search(message: Message, zone: ZoneInfo) -> SearchAsk:
    qrd = message.first("QRD")
    if qrd is not None and qrd.get(9, 1) not in ("", scheduling.SLOTS_QUERY):
        raise unmapped(f"QRD-9 '{qrd.get(9, 1)[:20]}' is not a query this door answers (SLOTS)")
    try:
        query = scheduling.read_slot_query(message, zone)
    except ValueError as exc:
        raise malformed("QRD/QRF", str(exc)) from None
    if len(query.schedules) != 1:
        raise missing("exactly one service code in QRF-1")
    return SearchAsk(
        query.schedules[0], query.start_from, query.start_to, query.query_id, query.limit
    )


@dataclass(frozen=True, slots=True)
class BookingAsk:
    placer_id: str
    appointment_id: str
    schedule_id: str
    start: datetime | None
    end: datetime | None
    description: str
    service_code: str
    pid: Segment | None
    #: ARQ-24.1: the id of the CDA referral sent with the booking (dos_itk.md).
    document_id: str = ""
    #: ARQ-7.1 (appointment reason): an out-of-area booking's reason code (gateway/policy/).
    reason: str = ""


def read_booking(message: Message, zone: ZoneInfo) -> BookingAsk:
    """ARQ, NTE, PID and AIS-3 of an SRM; Refusal naming the field that is wrong."""
    if message.first("ARQ") is None:
        raise missing("the ARQ segment")
    try:
        arq = scheduling.read_arq(message, zone)
    except ValueError as exc:
        raise malformed("ARQ-11 requested start^end", str(exc)) from None
    if arq.start is not None and arq.end is not None and arq.end <= arq.start:
        raise malformed("ARQ-11 requested start^end", "the end is not after the start")
    ais = message.first("AIS")
    segment_arq = message.first("ARQ")
    return BookingAsk(
        placer_id=arq.placer_id,
        appointment_id=arq.filler_id,
        schedule_id=arq.schedule,
        start=arq.start,
        end=arq.end,
        description=arq.description.strip(),
        service_code=ais.get(3, 1) if ais is not None else "",
        pid=arq.pid,
        document_id=segment_arq.get(24, 1) if segment_arq is not None else "",
        reason=segment_arq.get(7, 1).strip() if segment_arq is not None else "",
    )


def read_patient(pid: Segment | None, tables: Tables) -> Patient:
    """The patient of PID (through the HL7 v2 toolkit's reader and the front door's tables)."""
    if pid is None:
        raise missing("PID (the patient)")
    try:
        patient = from_pid(pid, tables.patients)
    except adapter_errors.MappingError as exc:
        # from_pid says "missing" for absent data (101) and names unmapped codes (103).
        code = "101" if "missing" in exc.message else "103"
        raise Refusal(code, exc.message, ErrorKind.INVALID_PARAMETER) from None
    if patient.nhs_number is None:
        return patient
    if not is_valid_nhs_number(patient.nhs_number):
        # fs_fhir_overrides.md: a wrong NHS number is refused, never passed on.
        raise ApiError(ErrorKind.INVALID_NHS_NUMBER, "PID-3: the NHS number is not valid")
    if patient.nhs_number_verification is None:
        return patient.model_copy(update={"nhs_number_verification": UNTRACED})
    return patient
