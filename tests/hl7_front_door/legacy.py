"""A legacy 111/CAS system that only speaks HL7 v2: it builds SQM/SRM messages with the
HL7 v2 toolkit and sends them over MLLP with the toolkit's own client."""

from __future__ import annotations

import itertools
import ssl
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.domain import utcnow
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.er7 import Message, Segment, comp, segment
from adapters.hl7_toolkit.header import Ack, Header, msh, read_ack
from adapters.hl7_toolkit.mllp_client import MllpClient

ZONE = ZoneInfo("Europe/London")
NHS_NUMBER = "9434765919"
SERVICE_CODE = "UTC-DEMO"


def pid(nhs_number: str = NHS_NUMBER, sex: str = "F") -> Segment:
    """A patient as a CAS sends one: NHS number, name, DOB, sex, address, mobile."""
    return segment(
        "PID",
        "1",
        None,
        comp(nhs_number, None, None, "NHS", "NH"),
        None,
        comp("Smith", "Jane", None, None, "Mrs"),
        None,
        "19800101",
        sex,
        None,
        None,
        comp("1 High Street", None, "Leeds", None, "LS1 1AA"),
        None,
        comp("07700900123", "PRN", "CP"),
    )


@dataclass(frozen=True)
class Offer:
    """One slot from an SQR: what a consumer sends back to book it."""

    schedule: str
    start: datetime
    end: datetime


class Legacy:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        facility: str = "CAS-NORTH",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.header = Header("CAS-APP", facility, "UEC-GATEWAY", "GATEWAY", zone=ZONE)
        self.client = MllpClient(
            host, port, tls=tls, server_hostname="localhost", connect_attempts=2
        )
        self._ids = itertools.count(1)

    def control_id(self) -> str:
        return f"CAS{uuid.uuid4().hex[:12]}{next(self._ids)}"

    def msh(self, code: str, trigger: str, structure: str, control_id: str) -> Segment:
        return msh(self.header, code, trigger, structure, control_id, utcnow())

    async def send(self, message: Message, wait_s: float = 5.0) -> Message:
        payload = message.to_er7().encode()
        return await self.client.exchange(payload, message.control_id, wait_s)

    async def search(
        self,
        service: str = SERVICE_CODE,
        start_from: datetime | None = None,
        start_to: datetime | None = None,
        wait_s: float = 5.0,
    ) -> Message:
        query = scheduling.SlotQuery((service,), start_from, start_to, ("Open",), "Q1", 50)
        head = self.msh("SQM", "S25", "SQM_S25", self.control_id())
        return await self.send(scheduling.slot_query(head, query, utcnow(), ZONE), wait_s)

    async def offers(self, count: int = 1, service: str = SERVICE_CODE) -> list[Offer]:
        # Only slots an hour ahead or later: one that starts while the test books it is refused.
        answer = await self.search(service, start_from=datetime.now(UTC) + timedelta(hours=1))
        found = [
            Offer(b.schedule, b.start, b.end)
            for b in (scheduling.read_group(g, ZONE) for g in scheduling.groups(answer))
        ]
        assert len(found) >= count, "the demo diary should offer free slots"
        return found[:count]

    def booking(
        self,
        offer: Offer,
        *,
        trigger: str = "S01",
        control_id: str | None = None,
        patient: Segment | None = None,
        service: str | None = SERVICE_CODE,
        appointment_id: str = "",
        reason: str = "",
    ) -> Message:
        """An SRM for ``offer``; ``reason``: ARQ-7.1, an out-of-area booking's reason code."""
        request = scheduling.ArqRequest(
            placer_id=f"PL-{uuid.uuid4().hex[:8]}",
            filler_id=appointment_id,
            schedule=offer.schedule,
            start=offer.start,
            end=offer.end,
            description="Abdominal pain, 111 disposition Dx05",
            pid=patient if patient is not None else pid(),
        )
        head = self.msh("SRM", trigger, "SRM_S01", control_id or self.control_id())
        segments = list(scheduling.booking_request(head, request, ZONE).segments)
        arq = list(segments[1].fields)
        arq += [""] * (25 - len(arq))
        arq[24] = comp(str(uuid.uuid4()), "CAS")  # ARQ-24: the CDA referral's id
        if reason:
            arq[7] = comp(reason, None, "OOA")  # ARQ-7: appointment reason
        segments[1] = Segment(tuple(arq), segments[1].delimiters)
        if service:
            segments.insert(-1, segment("AIS", "1", "A", comp(service, None, "L")))
        return Message(tuple(segments))

    async def book(self, offer: Offer, **options: str) -> Message:
        return await self.send(self.booking(offer, **options))

    async def cancel(self, appointment_id: str, control_id: str | None = None) -> Message:
        request = scheduling.ArqRequest(placer_id="", filler_id=appointment_id)
        head = self.msh("SRM", "S04", "SRM_S01", control_id or self.control_id())
        return await self.send(scheduling.cancel_request(head, request, ZONE))

    async def close(self) -> None:
        await self.client.close()


def ack_of(message: Message) -> Ack:
    return read_ack(message)


def appointment(answer: Message) -> scheduling.Booked:
    """The SCH group of an SRR."""
    found = scheduling.groups(answer)
    assert len(found) == 1, answer.to_er7()
    return scheduling.read_group(found[0], ZONE)
