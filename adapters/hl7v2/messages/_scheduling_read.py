"""Reading SCH groups, ARQ and slot queries; see ``scheduling`` for the layout."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.hl7v2.messages._scheduling_types import ArqRequest, Booked, SlotQuery, Staff
from adapters.hl7v2.messages.er7 import Message, Segment
from adapters.hl7v2.messages.values import parse_instant


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
