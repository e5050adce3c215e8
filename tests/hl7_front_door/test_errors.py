"""Every failure is a clear HL7 answer: MSA AE/AR plus ERR with its code and text."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from adapters.hl7v2.messages.er7 import Message, segment
from adapters.hl7v2.mllp import FrameDecoder, frame
from gateway.hl7.tables import load_tables
from tests.hl7_front_door.conftest import FAULTY_SERVICE, TABLES, Door, Start, faulty
from tests.hl7_front_door.legacy import Legacy, Offer, ack_of, pid


def _err(answer: Message) -> tuple[str, str, str, str]:
    """MSA-1, ERR-3.1, ERR-5.1 and ERR-8 of an error answer."""
    ack = ack_of(answer)
    err = answer.first("ERR")
    assert err is not None, answer.to_er7()
    return ack.code, err.get(3, 1), err.get(5, 1), err.get(8)


async def test_slot_taken_is_ae_slot_not_free(door: Door) -> None:
    """Booking a slot someone else has just booked: AE, ERR-3 207, ERR-5 SLOT_NOT_FREE."""
    (offer,) = await door.legacy.offers()
    assert ack_of(await door.legacy.book(offer)).code == "AA"
    answer = await door.legacy.book(offer)
    assert answer.message_type[:3] == ("ACK", "S01", "ACK")
    code, hl7, app, text = _err(answer)
    assert (code, hl7, app) == ("AE", "207", "SLOT_NOT_FREE")
    assert "busy" in text or "free" in text


async def test_unknown_service_is_ae_204(door: Door) -> None:
    """A service code neither in services.csv nor routed: AE, ERR-3 204, SERVICE_NOT_FOUND."""
    code, hl7, app, text = _err(await door.legacy.search("NO-SUCH-SERVICE"))
    assert (code, hl7, app) == ("AE", "204", "NO_RECORD_FOUND")
    assert "NO-SUCH-SERVICE" in text


async def test_slot_that_does_not_exist_is_ae_204(door: Door) -> None:
    """ARQ-11 times that are no slot of the schedule: AE 204, search again."""
    (offer,) = await door.legacy.offers()
    moved = Offer(offer.schedule, offer.start + timedelta(minutes=1), offer.end)
    code, hl7, app, text = _err(await door.legacy.book(moved))
    assert (code, hl7, app) == ("AE", "204", "REFERENCE_NOT_FOUND")
    assert "search for slots again" in text


async def test_invalid_nhs_number_is_ar_102(door: Door) -> None:
    """An NHS number failing its check digit: AR, ERR-3 102, INVALID_NHS_NUMBER."""
    (offer,) = await door.legacy.offers()
    answer = await door.legacy.book(offer, patient=pid("9434765918"))
    assert _err(answer)[:3] == ("AR", "102", "INVALID_NHS_NUMBER")
    assert "9434765918" not in answer.to_er7(), "the number is not echoed back"


async def test_malformed_messages_are_ar_with_the_precise_code(door: Door) -> None:
    """Missing ARQ-11 is 101, an unmapped sex 103, a bad time 102: all AR."""
    legacy = door.legacy
    (offer,) = await legacy.offers()
    no_arq = Message(
        (legacy.msh("SRM", "S01", "SRM_S01", legacy.control_id()), segment("RGS", "1"))
    )
    assert _err(await legacy.send(no_arq))[:2] == ("AR", "101")
    assert _err(await legacy.book(offer, patient=pid(sex="Q")))[:2] == ("AR", "103")
    bad = legacy.booking(offer)
    arq = bad.first("ARQ")
    assert arq is not None
    fields = list(arq.fields)
    fields[11] = "tomorrow^later"
    broken = Message(tuple(type(arq)(tuple(fields)) if s is arq else s for s in bad.segments))
    assert _err(await legacy.send(broken))[:2] == ("AR", "102")


async def test_unsupported_message_types_are_ar_200_and_201(door: Door) -> None:
    """ADT is AR 200 (message type); SRM^S05 is AR 201 (event)."""
    legacy = door.legacy
    adt = Message((legacy.msh("ADT", "A01", "ADT_A01", legacy.control_id()),))
    assert _err(await legacy.send(adt))[:2] == ("AR", "200")
    s05 = Message((legacy.msh("SRM", "S05", "SRM_S01", legacy.control_id()),))
    assert _err(await legacy.send(s05))[:2] == ("AR", "201")


async def test_unknown_sending_facility_is_refused(door: Door) -> None:
    """A facility that is not a configured consumer: AR ACCESS_DENIED, nothing searched."""
    host, port = door.legacy.client.host, door.legacy.client.port
    stranger = Legacy(host, port, facility="ELSEWHERE")
    try:
        assert _err(await stranger.search())[:3] == ("AR", "207", "ACCESS_DENIED")
    finally:
        await stranger.close()


async def test_supplier_down_is_ae_transient(start_door: Start, faulty_registered: None) -> None:
    """A supplier that cannot be reached: AE, SUPPLIER_UNAVAILABLE, text says transient."""
    door = await start_door(**faulty("down"))
    code, hl7, app, text = _err(await door.legacy.search(FAULTY_SERVICE))
    assert (code, hl7, app) == ("AE", "207", "SUPPLIER_UNAVAILABLE")
    assert "transient" in text


async def test_supplier_timeout_is_ae_within_the_time_budget(
    start_door: Start, faulty_registered: None
) -> None:
    """A supplier slower than time_budget_s: AE SUPPLIER_TIMEOUT, promptly."""
    door = await start_door(**faulty("slow"), budget_s=0.3)
    began = time.monotonic()
    code, _, app, text = _err(await door.legacy.search(FAULTY_SERVICE))
    assert (code, app) == ("AE", "SUPPLIER_TIMEOUT") and "transient" in text
    assert time.monotonic() - began < 3


async def test_cancel_of_unknown_appointment_is_ae_204(door: Door) -> None:
    """SRM^S04 naming no appointment: AE 204; without ARQ-2 at all: AR 101."""
    assert _err(await door.legacy.cancel("no-such-appointment"))[:2] == ("AE", "204")
    assert _err(await door.legacy.cancel(""))[:2] == ("AR", "101")


async def test_noise_and_unreadable_frames_do_not_wedge_the_connection(door: Door) -> None:
    """A frame that is not HL7 gets no answer; the next message on that connection does."""
    host, port = door.legacy.client.host, door.legacy.client.port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        control = door.legacy.control_id()
        head = door.legacy.msh("SQM", "S25", "SQM_S25", control)
        search = Message((head, segment("QRD"), segment("QRF", "UTC-DEMO")))
        writer.write(b"noise" + frame(b"NOT HL7") + frame(search.to_er7().encode()))
        await writer.drain()
        decoder = FrameDecoder()
        async with asyncio.timeout(5):
            frames: list[bytes] = []
            while not frames:
                frames = decoder.feed(await reader.read(65536))
        assert b"MSA|AA|" + control.encode() in frames[0]
    finally:
        writer.close()


async def test_oversized_frame_drops_the_connection(door: Door) -> None:
    """A frame over max_frame_bytes closes that connection; the listener keeps serving."""
    host, port = door.legacy.client.host, door.legacy.client.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"\x0bMSH|" + b"x" * 1_100_000)
    await writer.drain()
    async with asyncio.timeout(5):
        assert await reader.read() == b""
    writer.close()
    assert ack_of(await door.legacy.search()).code == "AA"


def test_error_table_covers_every_error_kind() -> None:
    """errors.csv loads and names an AE/AR and an HL7 code for every ErrorKind."""
    tables = load_tables(TABLES)
    assert all(row.ack_code in ("AE", "AR") for row in tables.errors.values())
