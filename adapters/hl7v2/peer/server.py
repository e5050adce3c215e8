"""The reference PAS peer: a real MLLP server with its own SQLite diary.

Used by the tests, the demo and integrators (``python -m adapters.hl7v2.peer``).
It speaks this package's dialect, can be told to misbehave (``inject``), can
go down and come back (``go_down``/``come_up``/``crash``), and its desk can
book, move and cancel locally, telling the gateway with unsolicited SIU
messages (``book_locally`` ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from adapters.domain import utcnow
from adapters.hl7_toolkit.er7 import Er7Error, Message, decode
from adapters.hl7_toolkit.header import Header
from adapters.hl7_toolkit.mllp import (
    DEFAULT_MAX_FRAME,
    FrameDecoder,
    FrameTooLarge,
    frame,
    read_frames,
)
from adapters.hl7v2.peer.desk import Desk, DeskPatient
from adapters.hl7v2.peer.diary import DEFAULT_DIARY, Appointment, Diary, load_templates
from adapters.hl7v2.peer.faults import Fault, FaultKind, FaultPlan
from adapters.hl7v2.peer.logic import PasLogic, nak_for

log = structlog.get_logger(__name__)
GARBAGE = b"\x0bTHIS IS NOT AN HL7 MESSAGE\x1c\x0d"

__all__ = ["DeskPatient", "Fault", "FaultKind", "PasPeer"]


class PasPeer:
    def __init__(
        self, logic: PasLogic, *, host: str, port: int, tls: ssl.SSLContext | None, max_frame: int
    ) -> None:
        self.logic = logic
        self.host, self.port = host, port
        self.faults = FaultPlan()
        self.received: list[str] = []
        self._tls, self._max_frame = tls, max_frame
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._jobs: set[asyncio.Task[None]] = set()
        self.desk = Desk(logic)

    @classmethod
    async def start(
        cls,
        database: str = ":memory:",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        diary: Path = DEFAULT_DIARY,
        horizon_days: int = 7,
        version: str = "2.5",
        timezone: str = "Europe/London",
        tls: ssl.SSLContext | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
        clock: Callable[[], datetime] = utcnow,
        notify: tuple[str, int] | None = None,
        booking_answer: str = "srr",
    ) -> PasPeer:
        header = Header(
            "PAS", "PAS-FACILITY", "GATEWAY", "GATEWAY-FACILITY", version, zone=ZoneInfo(timezone)
        )
        logic = PasLogic(
            await Diary.open(database), load_templates(diary), header, horizon_days, clock
        )
        logic.booking_answer = booking_answer
        peer = cls(logic, host=host, port=port, tls=tls, max_frame=max_frame)
        peer.notify_to(notify)
        await peer.come_up()
        return peer

    # -- lifecycle ---------------------------------------------------------------------

    async def come_up(self) -> None:
        """Listen again (on the same port once one was chosen)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve,
            self.host,
            self.port,
            ssl=self._tls,
            reuse_address=True,
            limit=self._max_frame + 1024,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("pas_peer_started", port=self.port)

    async def go_down(self) -> None:
        """Stop listening and drop every connection (connections are refused after)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for job in list(self._jobs):
            job.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:  # handlers end by themselves once their transport is gone
            await asyncio.wait(list(self._tasks), timeout=2.0)
        if self._jobs:
            await asyncio.wait(list(self._jobs), timeout=2.0)
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def crash(self) -> None:
        """Die like ``kill -9``: connections reset, nothing answered, the diary file kept."""
        await self.go_down()
        await self.desk.close()
        await self.logic.diary.close()

    async def close(self) -> None:
        await self.crash()

    def notify_to(self, address: tuple[str, int] | None, tls: ssl.SSLContext | None = None) -> None:
        """Where unsolicited SIU messages go (the gateway's MLLP listener)."""
        self.desk.notify_to(address, tls)

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    # -- what the PAS holds (for tests and integrators) --------------------------------

    async def appointments(self) -> list[Appointment]:
        async with self.logic.lock:
            return await self.logic.diary.all()

    async def book_locally(
        self,
        schedule: str,
        start: datetime,
        patient: DeskPatient,
        description: str = "booked at the desk",
    ) -> str:
        return await self.desk.book(schedule, start, patient, description)

    async def move_locally(self, filler_id: str, start: datetime) -> None:
        await self.desk.move(filler_id, start)

    async def cancel_locally(self, filler_id: str) -> None:
        await self.desk.cancel(filler_id)

    async def no_show_locally(self, filler_id: str) -> None:
        await self.desk.no_show(filler_id)

    async def modify_locally(self, filler_id: str, description: str) -> None:
        await self.desk.modify(filler_id, description)

    # -- serving -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        decoder = FrameDecoder(self._max_frame)
        held: list[bytes] = []
        try:
            while True:
                frames = await read_frames(reader, decoder)
                if not frames:
                    break
                for payload in frames:
                    job = asyncio.create_task(self._one(payload, writer, held))
                    self._jobs.add(job)
                    job.add_done_callback(self._jobs.discard)
        except (ConnectionError, FrameTooLarge, OSError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _one(self, payload: bytes, writer: asyncio.StreamWriter, held: list[bytes]) -> None:
        try:
            message = decode(payload)
        except Er7Error:
            return  # not HL7: nothing can be answered (no MSH-10 to name)
        code, trigger, _ = message.message_type
        self.received.append(f"{code}^{trigger}")
        fault = self.faults.take(code, trigger)
        kind = fault.kind if fault else None
        if kind is FaultKind.DISCONNECT:
            writer.transport.abort()
            return
        if kind is FaultKind.SLOW and fault is not None:
            await asyncio.sleep(fault.delay_s)
        if kind is FaultKind.NAK:
            answer: Message | None = nak_for(self.logic, message)
        else:
            answer = await self.logic.handle(message)
        if answer is not None and self.logic.booked_via_ack:
            await self.desk.announce_bookings()
        if answer is None or kind is FaultKind.DROP_ACK:
            return
        data = frame(answer.to_er7().encode("utf-8"))
        if kind is FaultKind.GARBLED:
            data = GARBAGE
        if kind is FaultKind.LATE_ACK and fault is not None:
            held.append(data)
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
                if data in held:
                    held.remove(data)
                    self._write(writer, data)
            return
        while held:  # a held answer goes out just before the next one: the dangerous order
            self._write(writer, held.pop(0))
        self._write(writer, data)

    @staticmethod
    def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
        if not writer.is_closing():
            writer.write(data)
