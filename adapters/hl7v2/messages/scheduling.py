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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.hl7v2.messages.er7 import Message, Segment, comp, reps, segment
from adapters.hl7v2.messages.values import format_instant, parse_instant

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


# -- building ----------------------------------------------------------------------------


def _ts(instant: datetime | None, zone: ZoneInfo) -> str | None:
    return format_instant(instant, zone) if instant is not None else None


def slot_query(msh: Segment, query: SlotQuery, now: datetime, zone: ZoneInfo) -> Message:
    qrd = segment(
        "QRD",
        format_instant(now, zone),
        "R",
        "I",
        query.query_id,
        None,
        None,
        comp(str(query.limit), "RD"),
        comp("GATEWAY"),
        comp(SLOTS_QUERY, "Open slots", "L"),
        comp("ALL"),
    )
    qrf = segment(
        "QRF",
        reps(query.schedules),
        _ts(query.start_from, zone),
        _ts(query.start_to, zone),
        None,
        reps(query.statuses),
    )
    return Message((msh, qrd, qrf))


def appointment_query(
    msh: Segment, query_id: str, placer_id: str, filler_id: str, now: datetime, zone: ZoneInfo
) -> Message:
    qrd = segment(
        "QRD",
        format_instant(now, zone),
        "R",
        "I",
        query_id,
        None,
        None,
        comp("1", "RD"),
        comp("GATEWAY"),
        comp(APPOINTMENT_QUERY, "Appointment", "L"),
        comp("ALL"),
    )
    return Message((msh, qrd, _arq(ArqRequest(placer_id, filler_id), zone), *_rgs_min()))


def booking_request(msh: Segment, request: ArqRequest, zone: ZoneInfo) -> Message:
    segments = [msh, _arq(request, zone)]
    if request.description:
        segments.append(segment("NTE", "1", None, request.description))
    if request.pid is not None:
        segments.append(request.pid)
    segments += [
        segment("RGS", "1", "A"),
        segment("AIG", "1", "A", comp(request.schedule, None, "L"), comp("SCHEDULE", None, "L")),
    ]
    return Message(tuple(segments))


def cancel_request(msh: Segment, request: ArqRequest, zone: ZoneInfo) -> Message:
    return Message((msh, _arq(request, zone), *_rgs_min(request.schedule)))


def _rgs_min(schedule: str = "") -> tuple[Segment, ...]:
    if not schedule:
        return (segment("RGS", "1", "A"),)
    return (
        segment("RGS", "1", "A"),
        segment("AIG", "1", "A", comp(schedule, None, "L"), comp("SCHEDULE", None, "L")),
    )


def _arq(request: ArqRequest, zone: ZoneInfo) -> Segment:
    requester = comp(request.requester or "GATEWAY")
    window = comp(_ts(request.start, zone), _ts(request.end, zone)) if request.start else None
    minutes = None
    if request.start and request.end:
        minutes = str(int((request.end - request.start).total_seconds() // 60))
    return segment(
        "ARQ",
        comp(request.placer_id, "GATEWAY"),
        comp(request.filler_id, "PAS") if request.filler_id else None,
        None,
        None,
        comp(request.schedule, None, "L") if request.schedule else None,
        None,
        None,
        None,
        minutes,
        comp("min", "Minutes", "ANS+") if minutes else None,
        window,
        None,
        None,
        None,
        requester,
        None,
        None,
        None,
        requester,
    )


def sch_group(item: Booked, zone: ZoneInfo) -> list[Segment]:
    """SCH, TQ1, NTE, PID and one RGS group describing ``item`` (chapter 10.6.2)."""
    minutes = str(int((item.end - item.start).total_seconds() // 60))
    out = [
        segment(
            "SCH",
            comp(item.placer_id, "GATEWAY") if item.placer_id else None,
            comp(item.filler_id, "PAS") if item.filler_id else None,
            None,
            None,
            comp(item.schedule, None, "L"),
            comp("BOOKING", None, "L"),
            None,
            comp(item.appointment_type, None, "L") if item.appointment_type else None,
            minutes,
            comp("min", "Minutes", "ANS+"),
            None,
            None,
            None,
            None,
            None,
            comp("PAS"),
            None,
            None,
            None,
            comp("PAS"),
            None,
            None,
            None,
            None,
            comp(item.status, None, "HL70278"),
        ),
        segment(
            "TQ1",
            "1",
            None,
            None,
            None,
            None,
            None,
            format_instant(item.start, zone),
            format_instant(item.end, zone),
        ),
    ]
    if item.description:
        out.append(segment("NTE", "1", None, item.description))
    if item.pid is not None:
        out.append(item.pid)
    out.append(segment("RGS", "1", "A"))
    if item.appointment_type:
        out.append(segment("AIS", "1", "A", comp(item.appointment_type, None, "L")))
    out.append(
        segment("AIG", "1", "A", comp(item.schedule, None, "L"), comp("SCHEDULE", None, "L"))
    )
    if item.location:
        out.append(segment("AIL", "1", "A", comp(item.location)))
    for staff in item.staff:
        out.append(
            segment(
                "AIP",
                "1",
                "A",
                comp(staff.id, staff.family, staff.given, None, None, staff.prefix or None),
                comp(staff.staff_type, None, "L") if staff.staff_type else None,
            )
        )
    return out


# -- reading -----------------------------------------------------------------------------


def groups(message: Message) -> list[list[Segment]]:
    """The message's segments cut into SCH groups (each list starts with SCH)."""
    out: list[list[Segment]] = []
    for seg in message.segments:
        if seg.name == "SCH":
            out.append([seg])
        elif out:
            out[-1].append(seg)
    return out


def read_group(group: Sequence[Segment], zone: ZoneInfo) -> Booked:
    """One SCH group as ``Booked``; ValueError naming the field that is wrong."""
    sch = group[0]
    start, end = _times(group, zone)
    first = {
        name: next((s for s in group if s.name == name), None)
        for name in ("NTE", "PID", "AIS", "AIL", "AIG")
    }
    location = first["AIL"].get(3, 1) if first["AIL"] else ""
    schedule = sch.get(5, 1) or (first["AIG"].get(3, 1) if first["AIG"] else "")
    staff = tuple(
        Staff(s.get(3, 1), s.get(3, 2), s.get(3, 3), s.get(3, 6), s.get(4, 1))
        for s in group
        if s.name == "AIP" and s.get(3, 1)
    )
    return Booked(
        schedule=schedule,
        start=start,
        end=end,
        status=sch.get(25, 1),
        placer_id=sch.get(1, 1),
        filler_id=sch.get(2, 1),
        location=location,
        appointment_type=first["AIS"].get(3, 1) if first["AIS"] else sch.get(8, 1),
        description=first["NTE"].get(3) if first["NTE"] else "",
        staff=staff,
        pid=first["PID"],
    )


def _times(group: Sequence[Segment], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """TQ1-7/TQ1-8, else SCH-11.4/.5 (the v2.3 TQ), else AIS-4 plus SCH-9 minutes."""
    tq1 = next((s for s in group if s.name == "TQ1"), None)
    sch = group[0]
    start_text = (tq1.get(7) if tq1 else "") or sch.get(11, 4)
    end_text = (tq1.get(8) if tq1 else "") or sch.get(11, 5)
    if not start_text:
        raise ValueError("no start time in TQ1-7 or SCH-11.4")
    start = parse_instant(start_text, zone)
    if end_text:
        end = parse_instant(end_text, zone)
    else:
        raise ValueError("no end time in TQ1-8 or SCH-11.5")
    if end <= start:
        raise ValueError("the end time is not after the start time")
    return start, end


def read_arq(message: Message, zone: ZoneInfo) -> ArqRequest:
    arq = message.first("ARQ")
    if arq is None:
        raise ValueError("no ARQ segment")
    window = arq.repetitions(11)
    start = parse_instant(arq.get(11, 1), zone) if window and arq.get(11, 1) else None
    end = parse_instant(arq.get(11, 2), zone) if window and arq.get(11, 2) else None
    aig = message.first("AIG")
    nte = message.first("NTE")
    return ArqRequest(
        placer_id=arq.get(1, 1),
        filler_id=arq.get(2, 1),
        schedule=arq.get(5, 1) or (aig.get(3, 1) if aig else ""),
        start=start,
        end=end,
        description=nte.get(3) if nte else "",
        requester=arq.get(15, 1),
        pid=message.first("PID"),
    )


def read_slot_query(message: Message, zone: ZoneInfo) -> SlotQuery:
    qrd, qrf = message.first("QRD"), message.first("QRF")
    if qrd is None or qrf is None:
        raise ValueError("a slot query needs QRD and QRF")
    start = qrf.get(2)
    end = qrf.get(3)
    return SlotQuery(
        schedules=tuple(
            v for v in (qrf.get(1, rep=i + 1) for i in range(len(qrf.repetitions(1)))) if v
        ),
        start_from=parse_instant(start, zone) if start else None,
        start_to=parse_instant(end, zone) if end else None,
        statuses=tuple(qrf.get(5, rep=i + 1) for i in range(len(qrf.repetitions(5)))),
        query_id=qrd.get(4),
        limit=int(qrd.get(7, 1) or "5000"),
    )
