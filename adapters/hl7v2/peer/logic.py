"""What the reference PAS does with each message (HL7 v2.5 chapter 10).

``SQM^S25`` lists slots (or one appointment), ``SRM^S01`` books, ``SRM^S04``
cancels. A repeated MSH-10 gets the answer first given, and a repeated placer
appointment id the appointment first made (chapter 2.10.1, duplicate
detection), so a retried booking never books twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.er7 import Message, Segment, decode, segment
from adapters.hl7_toolkit.header import ERROR, REJECT, ErrorDetail, Header, ack, msa, msh
from adapters.hl7_toolkit.values import short_id
from adapters.hl7v2.peer.diary import BOOKED, CANCELLED, OPEN, Appointment, Diary, Template, slots


class Refused(Exception):
    def __init__(self, detail: ErrorDetail, code: str = ERROR) -> None:
        super().__init__(detail.text)
        self.detail, self.code = detail, code


def _refuse(hl7: str, app: str, text: str) -> Refused:
    return Refused(ErrorDetail(hl7, app, text))


class PasLogic:
    def __init__(
        self,
        diary: Diary,
        templates: dict[str, Template],
        header: Header,
        horizon_days: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.diary, self.templates, self.header = diary, templates, header
        self.zone: ZoneInfo = header.zone
        self.horizon_days, self.clock = horizon_days, clock
        self.lock = asyncio.Lock()
        #: "srr" answers SRM^S01 with SRR^S01; "ack-then-siu" with ACK, then SIU^S12.
        self.booking_answer = "srr"
        self.booked_via_ack: list[Appointment] = []

    def _msh(self, code: str, trigger: str, structure: str) -> Segment:
        return msh(self.header, code, trigger, structure, short_id(uuid.uuid4().hex), self.clock())

    async def handle(self, message: Message) -> Message | None:
        code, trigger, _ = message.message_type
        if code == "ACK":
            return None
        try:
            if (code, trigger) == ("SQM", "S25"):
                return await self._query(message)
            if (code, trigger) == ("SRM", "S01"):
                return await self._book(message)
            if (code, trigger) == ("SRM", "S04"):
                return await self._cancel(message)
            raise Refused(ErrorDetail("200", "", f"{code}^{trigger} is not supported"), REJECT)
        except Refused as exc:
            return ack(
                self.header.reply(),
                trigger,
                message.control_id,
                short_id(f"nak|{message.control_id}"),
                self.clock(),
                exc.code,
                exc.detail,
            )
        except (ValueError, sqlite3.Error) as exc:
            detail = ErrorDetail("207", "", f"could not process: {type(exc).__name__}")
            return ack(
                self.header.reply(),
                trigger,
                message.control_id,
                short_id(f"nak|{message.control_id}"),
                self.clock(),
                REJECT,
                detail,
            )

    # -- queries ---------------------------------------------------------------------

    async def _query(self, message: Message) -> Message:
        qrd = message.first("QRD")
        if qrd is not None and qrd.get(9, 1) == sched.APPOINTMENT_QUERY:
            return await self._appointment_query(message, qrd.get(4))
        query = sched.read_slot_query(message, self.zone)
        unknown = [s for s in query.schedules if s not in self.templates]
        if unknown:
            raise _refuse("204", "SCHEDULE_UNKNOWN", "unknown schedule code")
        groups: list[Segment] = []
        count = 0
        async with self.lock:
            for item in await self._slots(query):
                groups += sched.sch_group(item, self.zone)
                count += 1
                if count >= query.limit:
                    break
        head = [
            self._msh("SQR", "S25", "SQR_S25"),
            msa("AA", message.control_id),
            segment("QAK", query.query_id, "OK" if count else "NF"),
        ]
        return Message((*head, *groups))

    async def _slots(self, query: sched.SlotQuery) -> list[sched.Booked]:
        now = self.clock()
        first_day = now.astimezone(self.zone).date()
        lower = max(query.start_from or now, now)
        upper = query.start_to or now + timedelta(days=self.horizon_days)
        if upper < lower:
            return []
        schedules = list(query.schedules) or list(self.templates)
        taken = await self.diary.booked_starts(schedules, lower, upper)
        found: list[sched.Booked] = []
        for code in schedules:
            template = self.templates[code]
            length = timedelta(minutes=template.minutes)
            for start in slots(template, self.zone, first_day, self.horizon_days):
                if start < lower or start > upper or start <= now:
                    continue
                status = BOOKED if (code, _stamp(start)) in taken else OPEN
                if status in query.statuses:
                    found.append(self._slot(template, start, start + length, status))
        found.sort(key=lambda b: (b.start, b.schedule))
        return found

    def _slot(
        self, template: Template, start: datetime, end: datetime, status: str
    ) -> sched.Booked:
        return sched.Booked(
            schedule=template.schedule,
            start=start,
            end=end,
            status=status,
            location=template.location,
            appointment_type=template.appointment_type,
            staff=(template.staff,),
        )

    async def _appointment_query(self, message: Message, query_id: str) -> Message:
        arq = sched.read_arq(message, self.zone)
        found = await self.diary.find(placer_id=arq.placer_id, filler_id=arq.filler_id)
        head = [
            self._msh("SQR", "S25", "SQR_S25"),
            msa("AA", message.control_id),
            segment("QAK", query_id, "OK" if found else "NF"),
        ]
        body = self.group(found) if found else []
        return Message((*head, *body))

    def group(self, item: Appointment) -> list[Segment]:
        template = self.templates[item.schedule]
        pid = decode(f"MSH|^~\\&\r{item.pid}".encode()).first("PID") if item.pid else None
        booked = replace(
            self._slot(template, item.start, item.end, item.status),
            placer_id=item.placer_id,
            filler_id=item.filler_id,
            description=item.description,
            pid=pid,
        )
        return sched.sch_group(booked, self.zone)

    # -- booking and cancelling ---------------------------------------------------------

    async def _book(self, message: Message) -> Message:
        async with self.lock:
            previous = await self.diary.answer_for(message.control_id)
            if previous is not None:
                return decode(previous.encode())
            arq = sched.read_arq(message, self.zone)
            existing = await self.diary.find(placer_id=arq.placer_id) if arq.placer_id else None
            item = existing or await self._new_booking(arq)
            if self.booking_answer == "ack-then-siu" and existing is None:
                answer = ack(
                    self.header.reply(),
                    "S01",
                    message.control_id,
                    short_id(f"ack|{message.control_id}"),
                    self.clock(),
                )
                self.booked_via_ack.append(item)
            else:
                answer = Message(
                    (
                        self._msh("SRR", "S01", "SRR_S01"),
                        msa("AA", message.control_id),
                        *self.group(item),
                    )
                )
            await self.diary.remember_answer(message.control_id, answer.to_er7())
            return answer

    async def _new_booking(self, arq: sched.ArqRequest) -> Appointment:
        template = self.templates.get(arq.schedule)
        if template is None:
            raise _refuse("204", "SCHEDULE_UNKNOWN", "unknown schedule code")
        if arq.start is None or arq.end is None:
            raise _refuse("101", "", "ARQ-11 requested start and end are required")
        now = self.clock()
        days = self.horizon_days + 1
        first_day = (now - timedelta(days=1)).astimezone(self.zone).date()
        if arq.start not in set(slots(template, self.zone, first_day, days)):
            raise _refuse("204", "SLOT_UNKNOWN", "no slot starts then on that schedule")
        if arq.end != arq.start + timedelta(minutes=template.minutes):
            raise _refuse("207", "SLOT_MISMATCH", "the requested end does not fit the slot")
        if arq.start <= now:
            raise _refuse("207", "SLOT_PAST", "the slot has already started")
        if await self.diary.live_at(template.schedule, arq.start):
            raise _refuse("207", "SLOT_TAKEN", "the slot is already booked")
        item = Appointment(
            self.diary.next_filler_id(),
            arq.placer_id,
            template.schedule,
            arq.start,
            arq.end,
            BOOKED,
            _segment_text(arq.pid),
            arq.description,
            "gateway",
        )
        await self.diary.insert(item, now)
        return item

    async def _cancel(self, message: Message) -> Message:
        async with self.lock:
            previous = await self.diary.answer_for(message.control_id)
            if previous is not None:
                return decode(previous.encode())
            arq = sched.read_arq(message, self.zone)
            item = await self.diary.find(placer_id=arq.placer_id, filler_id=arq.filler_id)
            if item is None:
                raise _refuse("204", "APPT_UNKNOWN", "no such appointment")
            if item.status != BOOKED or item.start <= self.clock():
                raise _refuse("207", "NOT_CANCELLABLE", "the appointment cannot be cancelled")
            await self.diary.update(item.filler_id, self.clock(), status=CANCELLED)
            item = replace(item, status=CANCELLED)
            answer = Message(
                (
                    self._msh("SRR", "S04", "SRR_S01"),
                    msa("AA", message.control_id),
                    *self.group(item),
                )
            )
            await self.diary.remember_answer(message.control_id, answer.to_er7())
            return answer


def _segment_text(seg: Segment | None) -> str:
    if seg is None:
        return ""
    return seg.delimiters.field.join(seg.fields)


def _stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def nak_for(logic: PasLogic, message: Message) -> Message:
    """AR with ERR 207: the PAS refused the message without acting on it (fault injection)."""
    detail = ErrorDetail("207", "", "application internal error (injected)")
    return ack(
        logic.header.reply(),
        message.message_type[1],
        message.control_id,
        short_id(f"nak|{message.control_id}"),
        logic.clock(),
        REJECT,
        detail,
    )
