"""The PAS's own front desk: local bookings, moves and cancels, told to the gateway by SIU.

HL7 v2.5 chapter 10.5: the filler sends unsolicited ``SIU`` messages (S12
new, S13 rescheduled, S14 modified, S15 cancelled, S26 no-show) to interested systems and
expects an ACK for each. A message not acknowledged stays in the outbox and
is sent again by ``flush``.
"""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import structlog

from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.er7 import Message, comp, reps, segment
from adapters.hl7_toolkit.header import Ack, read_ack
from adapters.hl7_toolkit.mllp_client import MllpClient, TransportError
from adapters.hl7_toolkit.values import format_date, short_id
from adapters.hl7v2._redact import Redacted
from adapters.hl7v2.peer.diary import BOOKED, CANCELLED, NOSHOW, Appointment, slots
from adapters.hl7v2.peer.logic import PasLogic

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DeskPatient:
    """A patient as the receptionist types them in (the PAS's own codes)."""

    family: str
    given: str
    sex: str
    birth_date: date
    nhs_number: str | None = None
    mrn: str | None = None
    line1: str | None = None
    city: str | None = None
    postcode: str | None = None

    def pid_text(self) -> str:
        ids = []
        if self.nhs_number:
            ids.append(comp(self.nhs_number, None, None, "NHS", "NH"))
        if self.mrn:
            ids.append(comp(self.mrn, None, None, "RVR01", "MR"))
        seg = segment(
            "PID",
            "1",
            None,
            reps(ids),
            None,
            comp(self.family, self.given),
            None,
            format_date(self.birth_date),
            self.sex,
            None,
            None,
            comp(self.line1, None, self.city, None, self.postcode, None, "H"),
        )
        return "|".join(seg.fields)


class Desk:
    def __init__(self, logic: PasLogic) -> None:
        self.logic = logic
        self._client: MllpClient | None = None
        self.outbox: list[Message] = []
        self.acks: list[Ack] = []

    def notify_to(self, address: tuple[str, int] | None, tls: ssl.SSLContext | None) -> None:
        self._client = (
            MllpClient(address[0], address[1], tls=tls, log_name="pas-desk") if address else None
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def book(
        self, schedule: str, start: datetime, patient: DeskPatient, description: str
    ) -> str:
        logic = self.logic
        async with logic.lock:
            template = logic.templates[schedule]
            now = logic.clock()
            first_day = now.astimezone(logic.zone).date()
            if start not in set(slots(template, logic.zone, first_day, logic.horizon_days)):
                raise ValueError("no slot starts then on that schedule")
            if await logic.diary.live_at(schedule, start):
                raise ValueError("the slot is already booked")
            item = Appointment(
                logic.diary.next_filler_id(),
                "",
                schedule,
                start,
                start + timedelta(minutes=template.minutes),
                BOOKED,
                patient.pid_text(),
                description,
                "desk",
            )
            await logic.diary.insert(item, now)
        await self._tell("S12", item)
        return item.filler_id

    async def move(self, filler_id: str, start: datetime) -> None:
        item = await self._change(filler_id, start=start)
        await self._tell("S13", item)

    async def cancel(self, filler_id: str) -> None:
        item = await self._change(filler_id, status=CANCELLED)
        await self._tell("S15", item)

    async def no_show(self, filler_id: str) -> None:
        """The patient did not attend: SCH-25 ``Noshow``, told by SIU^S26."""
        item = await self._change(filler_id, status=NOSHOW)
        await self._tell("S26", item)

    async def modify(self, filler_id: str, description: str) -> None:
        async with self.logic.lock:
            await self.logic.diary.conn.execute(
                "UPDATE appointments SET description = ? WHERE filler_id = ?",
                Redacted((description, filler_id)),
            )
            item = await self.logic.diary.find(filler_id=filler_id)
        assert item is not None
        await self._tell("S14", item)

    async def _change(
        self, filler_id: str, *, status: str | None = None, start: datetime | None = None
    ) -> Appointment:
        logic = self.logic
        async with logic.lock:
            item = await logic.diary.find(filler_id=filler_id)
            if item is None:
                raise ValueError("no such appointment")
            end = start + (item.end - item.start) if start else None
            await logic.diary.update(filler_id, logic.clock(), status=status, start=start, end=end)
            return replace(
                item, status=status or item.status, start=start or item.start, end=end or item.end
            )

    async def announce_bookings(self) -> None:
        """SIU^S12 for bookings answered with a bare ACK (``booking_answer: ack-then-siu``)."""
        pending, self.logic.booked_via_ack = self.logic.booked_via_ack, []
        for item in pending:
            await self._tell("S12", item)

    def siu(self, trigger: str, item: Appointment) -> Message:
        header = self.logic.header
        control = short_id(uuid.uuid4().hex)
        return scheduling.unsolicited(
            header, trigger, control, self.logic.clock(), self.logic.group(item)
        )

    async def _tell(self, trigger: str, item: Appointment) -> None:
        self.outbox.append(self.siu(trigger, item))
        await self.flush()

    async def flush(self, wait_s: float = 5.0) -> int:
        """Send what the outbox holds, in order; stop at the first failure. Returns sent."""
        sent = 0
        while self.outbox and self._client is not None:
            message = self.outbox[0]
            try:
                answer = await self._client.exchange(
                    message.to_er7().encode("utf-8"), message.control_id, wait_s
                )
            except TransportError as exc:
                log.warning(
                    "siu_not_delivered",
                    control_id=message.control_id,
                    error_type=type(exc).__name__,
                )
                return sent
            self.acks.append(read_ack(answer))
            self.outbox.pop(0)
            sent += 1
        return sent
