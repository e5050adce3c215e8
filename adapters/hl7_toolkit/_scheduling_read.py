"""Reading SCH groups, ARQ and slot queries; see ``scheduling`` for the layout."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.hl7_toolkit._scheduling_types import ArqRequest, Booked, SlotQuery, Staff
from adapters.hl7_toolkit.er7 import Message, Segment
from adapters.hl7_toolkit.values import parse_instant


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
    """Start TQ1-7, else SCH-11.4 (the v2.3 TQ), else AIS-4; end TQ1-8, else SCH-11.5,
    else the start plus a duration (``_duration``): PAS feeds in v2.3 often give no end."""
    sch = group[0]
    tq1, ais = (next((s for s in group if s.name == name), None) for name in ("TQ1", "AIS"))
    start_text = (tq1.get(7) if tq1 else "") or sch.get(11, 4) or (ais.get(4) if ais else "")
    end_text = (tq1.get(8) if tq1 else "") or sch.get(11, 5)
    if not start_text:
        raise ValueError("no start time in TQ1-7, SCH-11.4 or AIS-4")
    start = parse_instant(start_text, zone)
    if end_text:
        end = parse_instant(end_text, zone)
    else:
        length = _duration(sch, tq1, ais)
        if length is None:
            raise ValueError("no end time (TQ1-8, SCH-11.5) and no duration (TQ1-13, SCH-9)")
        end = start + length
    if end <= start:
        raise ValueError("the end time is not after the start time")
    return start, end


#: Duration units (CE code of TQ1-13.2, AIS-8, SCH-10; ISO+ and ANSI spellings) -> seconds.
_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1),
    **dict.fromkeys(("min", "mins", "minute", "minutes", "m"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("wk", "w", "week", "weeks"), 604800),
}
#: TQ-3 duration prefixes (chapter 4, TQ.3): S seconds, M minutes, H hours, D days, W weeks.
_TQ_PREFIX = {"S": 1, "M": 60, "H": 3600, "D": 86400, "W": 604800}


def _duration(sch: Segment, tq1: Segment | None, ais: Segment | None) -> timedelta | None:
    """The first duration given: TQ1-13 occurrence duration (CQ), SCH-11.3 (TQ duration,
    e.g. ``M30``), AIS-7/AIS-8, SCH-9/SCH-10; units default to minutes (chapter 10.6.2)."""
    if tq1 is not None and tq1.get(13, 1):
        return _amount("TQ1-13", tq1.get(13, 1), tq1.get(13, 2, 1))
    tq_duration = sch.get(11, 3).strip().upper()
    if tq_duration:
        unit, amount = tq_duration[:1], tq_duration[1:]
        if unit not in _TQ_PREFIX or not amount.isdigit():
            shown = tq_duration[:12]
            raise ValueError(f"SCH-11.3 duration '{shown}' is not S/M/H/D/W and a number")
        return timedelta(seconds=int(amount) * _TQ_PREFIX[unit])
    if ais is not None and ais.get(7):
        return _amount("AIS-7", ais.get(7), ais.get(8, 1))
    if sch.get(9):
        return _amount("SCH-9", sch.get(9), sch.get(10, 1))
    return None


def _amount(where: str, quantity: str, unit: str) -> timedelta:
    try:
        number = float(quantity)
    except ValueError:
        raise ValueError(f"{where} duration '{quantity[:12]}' is not a number") from None
    seconds = _UNIT_SECONDS.get((unit or "min").strip().lower())
    if seconds is None:
        raise ValueError(f"{where} duration unit '{unit[:12]}' is not one of s, min, h, d, wk")
    return timedelta(seconds=number * seconds)


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
