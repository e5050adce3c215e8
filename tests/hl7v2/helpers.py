"""Shared pieces of the HL7 v2 tests: the demo tables, a PAS peer and an adapter over it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.domain import SlotQuery, utcnow
from adapters.hl7_toolkit.mllp import FrameDecoder, frame, read_frames
from adapters.hl7v2 import Hl7v2Adapter, create
from adapters.hl7v2.peer.desk import DeskPatient
from adapters.hl7v2.peer.diary import Appointment
from adapters.hl7v2.peer.server import PasPeer
from tests.contract.builders import call_context
from tests.samples import SHARED_SAMPLES

ROOT = Path(__file__).resolve().parents[2]
DEMO_MAPPINGS = ROOT / "mappings" / "hl7v2" / "demo"
SAMPLES = SHARED_SAMPLES / "hl7v2-siu"
UTC_SERVICE = "918999197777"
PHONE_SERVICE = "918999196666"


def adapter_options(peer: PasPeer, **extra: Any) -> dict[str, Any]:
    """Options for an adapter over ``peer``, quick to give up so fault tests stay fast."""
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": peer.port,
        "mappings": str(DEMO_MAPPINGS),
        "database": "journal.sqlite3",
        "ack_timeout_s": 1.0,
        "time_budget_s": 3.0,
        "reconcile_interval_s": 3600,
        "reconcile_after_s": 0,
        "listen": {"host": "127.0.0.1", "port": 0},
    }
    options.update(extra)
    return options


@asynccontextmanager
async def adapter_over(peer: PasPeer, folder: Path, **extra: Any) -> AsyncIterator[Hl7v2Adapter]:
    """An adapter talking to ``peer``, whose SIU listener the peer is told about."""
    adapter = await create("pas", adapter_options(peer, **extra), folder)
    assert isinstance(adapter, Hl7v2Adapter)
    if adapter.listen_address is not None:
        peer.notify_to(adapter.listen_address)
    try:
        yield adapter
    finally:
        await adapter.close()


async def exchange_frame(address: tuple[str, int], payload: bytes, wait_s: float = 5.0) -> bytes:
    """Send one MLLP frame to a listener over a real socket; the one frame it answers with."""
    reader, writer = await asyncio.open_connection(*address)
    decoder = FrameDecoder()
    try:
        writer.write(frame(payload))
        await writer.drain()
        async with asyncio.timeout(wait_s):
            frames = await read_frames(reader, decoder)
    finally:
        writer.close()
        await writer.wait_closed()
    assert len(frames) == 1, f"expected one answer frame, got {len(frames)}"
    return frames[0]


async def answer_or_close(
    address: tuple[str, int], data: bytes, wait_s: float = 5.0
) -> bytes | None:
    """Write raw ``data`` to an MLLP listener; its first answer frame, or None if it hung up.

    Neither within ``wait_s`` fails the test: silence with the connection left open
    is what a listener must never do.
    """
    reader, writer = await asyncio.open_connection(*address)
    decoder = FrameDecoder()
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait_s):
            frames = await read_frames(reader, decoder)
    except ConnectionResetError:
        return None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return frames[0] if frames else None


def acks_of(answer: bytes) -> list[tuple[str, str, str]]:
    """(MSA-1, MSA-2, first ERR-3) of every ACK in an answer frame, in order."""
    found: list[tuple[str, str, str]] = []
    for line in answer.decode("utf-8").split("\r"):
        fields = line.split("|")
        if fields[0] == "MSA":
            found.append((fields[1], fields[2] if len(fields) > 2 else "", ""))
        elif fields[0] == "ERR" and found and len(fields) > 3:
            code, answered, _ = found[-1]
            found[-1] = (code, answered, fields[3].split("^")[0])
    return found


async def desk_siu(peer: PasPeer, adapter: Hl7v2Adapter, patient: DeskPatient) -> Appointment:
    """A desk booking the peer holds but has not told the adapter of (its SIU is for the test)."""
    query = SlotQuery(service_id=UTC_SERVICE, start_from=utcnow() + timedelta(hours=1))
    slot = (await adapter.search_slots(query, call_context())).slots[0]
    schedule = "UTCNP" if slot.schedule_id == "pas-utc-nurse" else "UTCGP"
    peer.notify_to(None)
    filler = await peer.book_locally(schedule, slot.start, patient)
    return next(a for a in await peer.appointments() if a.filler_id == filler)


def siu_text(peer: PasPeer, trigger: str, item: Appointment, control: str) -> str:
    """The peer desk's SIU for ``item`` under MSH-10 ``control``."""
    message = peer.desk.siu(trigger, item)
    return message.to_er7().replace(f"|{message.control_id}|", f"|{control}|", 1)


def demo_tables(folder: Path, **edits: Callable[[str], str]) -> Path:
    """A copy of the demo mapping tables in ``folder``, ``edits`` applied by table name."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in DEMO_MAPPINGS.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        edit = edits.get(path.stem)
        (folder / path.name).write_text(edit(text) if edit else text, encoding="utf-8")
    return folder
