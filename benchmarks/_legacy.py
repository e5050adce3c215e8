"""The legacy consumer's side of the consumer leg: HL7 v2 messages and the timed MLLP calls."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.er7 import Message, Segment, comp, segment
from adapters.hl7_toolkit.header import Header, msh, read_ack
from adapters.hl7_toolkit.mllp_client import MllpClient, TransportError
from adapters.hl7_toolkit.values import short_id
from benchmarks._consumer_setup import CONSUMER_SLOTS, FACILITY, LONDON, SERVICE_CODE, WAIT_S
from benchmarks._phases import Op, Outcome
from gateway.examples import EXAMPLE_NHS_NUMBER


@dataclass(frozen=True)
class Offer:
    """A slot as a legacy consumer names it: schedule and times (HL7 has no slot ids)."""

    schedule: str
    start: datetime
    end: datetime


def pid() -> Segment:
    """The patient as a CAS sends one (the same person the FHIR baseline books)."""
    return segment(
        "PID",
        "1",
        None,
        comp(EXAMPLE_NHS_NUMBER, None, None, "NHS", "NH"),
        None,
        comp("Chalmers", "Peter", None, None, "Mr"),
        None,
        "19741225",
        "M",
        None,
        None,
        comp("123 High Street", None, "Leeds", None, "LS1 4HR"),
        None,
        comp("01234567890", "PRN", "PH"),
    )


class Legacy:
    """Builds SQM^S25 / SRM^S01 / SRM^S04 with the HL7 v2 toolkit, a fresh MSH-10 each."""

    def __init__(self) -> None:
        self.header = Header("CAS-APP", FACILITY, "UEC-GATEWAY", "GATEWAY", zone=LONDON)
        self.patient = pid()

    def _msh(self, code: str, trigger: str, structure: str) -> tuple[Segment, str]:
        control = short_id(uuid.uuid4().hex)
        return msh(self.header, code, trigger, structure, control, datetime.now(UTC)), control

    def search(self, first: datetime | None, last: datetime | None) -> tuple[bytes, str]:
        head, control = self._msh("SQM", "S25", "SQM_S25")
        query = sched.SlotQuery((SERVICE_CODE,), first, last, ("Open",), "Q1")
        message = sched.slot_query(head, query, datetime.now(UTC), LONDON)
        return message.to_er7().encode("utf-8"), control

    def book(self, offer: Offer) -> tuple[bytes, str]:
        head, control = self._msh("SRM", "S01", "SRM_S01")
        request = sched.ArqRequest(
            placer_id=f"PL-{uuid.uuid4().hex[:8]}",
            schedule=offer.schedule,
            start=offer.start,
            end=offer.end,
            description="Abdominal pain, 111 disposition Dx05",
            pid=self.patient,
        )
        segments = list(sched.booking_request(head, request, LONDON).segments)
        arq = list(segments[1].fields)
        arq += [""] * (25 - len(arq))
        arq[24] = comp(str(uuid.uuid4()), "CAS")  # ARQ-24: the CDA referral's id
        segments[1] = Segment(tuple(arq), segments[1].delimiters)
        segments.insert(-1, segment("AIS", "1", "A", comp(SERVICE_CODE, None, "L")))
        return Message(tuple(segments)).to_er7().encode("utf-8"), control

    def cancel(self, appointment_id: str) -> tuple[bytes, str]:
        head, control = self._msh("SRM", "S04", "SRM_S01")
        request = sched.ArqRequest(placer_id="", filler_id=appointment_id)
        return sched.cancel_request(head, request, LONDON).to_er7().encode("utf-8"), control


def refused(answer: Message, what: str) -> str | None:
    """None if MSA-1 is AA; else a short error naming the first ERR."""
    try:
        ack = read_ack(answer)
    except ValueError:
        return f"{what} -> no MSA"
    if ack.code == "AA":
        return None
    first = ack.errors[0].application_code if ack.errors else ack.text[:40]
    return f"{what} -> {ack.code} {first}"


def mllp_search_op(client: MllpClient, legacy: Legacy, window: tuple[datetime, datetime]) -> Op:
    async def op(index: int, _deadline: float) -> Outcome:
        payload, control = legacy.search(*window)
        try:
            started = time.perf_counter()
            answer = await client.exchange(payload, control, WAIT_S)
            latency = time.perf_counter() - started
        except TransportError as exc:
            return Outcome(None, f"SQM^S25: {type(exc).__name__}")
        error = refused(answer, "SQR^S25")
        if error is not None:
            return Outcome(None, error)
        if index == 0:  # the first answer of every phase is checked, outside the timing
            found = len(sched.groups(answer))
            if found != CONSUMER_SLOTS:
                return Outcome(None, f"SQR^S25 -> {found} slots, expected {CONSUMER_SLOTS}")
        return Outcome(latency, None, len(answer.to_er7()))

    return op


def mllp_book_cancel_op(client: MllpClient, legacy: Legacy, pool: asyncio.Queue[Offer]) -> Op:
    """Take a free slot, SRM^S01 it, SRM^S04 the booking, give the slot back if both were AA."""
    loop = asyncio.get_running_loop()

    async def op(_index: int, deadline: float) -> Outcome:
        try:
            offer = await asyncio.wait_for(pool.get(), max(deadline - loop.time(), 1.0))
        except TimeoutError:
            return Outcome(None, "no free slot left in the pool")
        payload, control = legacy.book(offer)
        try:
            started = time.perf_counter()
            booked = await client.exchange(payload, control, WAIT_S)
            book_s = time.perf_counter() - started
        except TransportError as exc:
            return Outcome(None, f"SRM^S01: {type(exc).__name__}")
        error = refused(booked, "SRR^S01")
        if error is not None:
            return Outcome(None, error)
        found = sched.groups(booked)
        filler = sched.read_group(found[0], LONDON).filler_id if found else ""
        if not filler:
            return Outcome(None, "SRR^S01 -> no SCH-2 filler id")
        payload, control = legacy.cancel(filler)
        try:
            started = time.perf_counter()
            cancelled = await client.exchange(payload, control, WAIT_S)
            cancel_s = time.perf_counter() - started
        except TransportError as exc:
            return Outcome(None, f"SRM^S04: {type(exc).__name__}")
        error = refused(cancelled, "SRR^S04")
        if error is not None:
            return Outcome(None, error)
        found = sched.groups(cancelled)
        if not found or sched.read_group(found[0], LONDON).status != "Cancelled":
            return Outcome(None, "SRR^S04 -> not Cancelled")
        pool.put_nowait(offer)  # cancelled, so free again
        size = len(booked.to_er7()) + len(cancelled.to_er7())
        return Outcome(book_s + cancel_s, None, size)

    return op
