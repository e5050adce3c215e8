"""Building SQM^S25, SRM^S01/S04 and SCH groups; see ``scheduling`` for the layout."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.hl7_toolkit._scheduling_types import (
    APPOINTMENT_QUERY,
    SLOTS_QUERY,
    ArqRequest,
    Booked,
    SlotQuery,
)
from adapters.hl7_toolkit.er7 import Message, Segment, comp, reps, segment
from adapters.hl7_toolkit.header import Header, msh
from adapters.hl7_toolkit.values import format_instant

#: Chapter 10.5 triggers of SIU (all of structure SIU_S12): S12 new, S13 rescheduled,
#: S14 modified, S15 cancelled, S17 deleted, S26 patient did not show up.
SIU_TRIGGERS = ("S12", "S13", "S14", "S15", "S17", "S26")


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


def unsolicited(
    header: Header, trigger: str, control_id: str, now: datetime, group: list[Segment]
) -> Message:
    """``SIU^trigger^SIU_S12`` (chapter 10.5): MSH, then one SCH group (``sch_group``)."""
    if trigger not in SIU_TRIGGERS:
        raise ValueError(f"SIU^{trigger} is not a trigger of chapter 10.5 this toolkit builds")
    return Message((msh(header, "SIU", trigger, "SIU_S12", control_id, now), *group))
