"""Every failure is a clear HL7 answer: MSA AE/AR plus ERR with its code and text."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from adapters.hl7_toolkit.er7 import Message, segment
from adapters.hl7_toolkit.mllp import frame
from gateway.hl7 import HL7_FRONT_DOOR
from gateway.hl7.tables import load_tables
from tests.hl7_front_door.conftest import FAULTY_SERVICE, TABLES, Door, Start, faulty
from tests.hl7_front_door.legacy import Legacy, Offer, ack_of, pid
from tests.hl7v2.helpers import acks_of, answer_or_close


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


async def test_noise_glued_to_a_message_is_discarded_and_the_message_answered(
    door: Door,
) -> None:
    """Bytes before a frame's start block, in the same write, are dropped; the frame is answered."""
    control = door.legacy.control_id()
    head = door.legacy.msh("SQM", "S25", "SQM_S25", control)
    search = Message((head, segment("QRD"), segment("QRF", "UTC-DEMO")))
    answer = await answer_or_close(_address(door), b"\r\nnoise" + frame(search.to_er7().encode()))
    assert answer is not None and b"MSA|AA|" + control.encode() in answer


def _address(door: Door) -> tuple[str, int]:
    return door.legacy.client.host, door.legacy.client.port


def _search_text(door: Door, control: str) -> str:
    head = door.legacy.msh("SQM", "S25", "SQM_S25", control)
    return Message((head, segment("QRD"), segment("QRF", "UTC-DEMO"))).to_er7()


async def test_readable_msh_with_a_byte_that_is_not_utf8_is_answered_ar_102(door: Door) -> None:
    """Row 9: MSH readable, one invalid UTF-8 byte in the body: AR, ERR-3 102, its MSH-10."""
    control = door.legacy.control_id()
    payload = _search_text(door, control).replace("UTC-DEMO", "UTC-\xffDEMO")
    raw = payload.encode("latin-1")
    answer = await answer_or_close(_address(door), frame(raw))
    assert answer is not None, "no answer: the connection was closed"
    assert acks_of(answer) == [("AR", control, "102")]
    assert b"UTF-8" in answer


async def test_readable_msh_with_a_segment_named_by_digits_is_answered_ar_100(door: Door) -> None:
    """Row 9: a segment named 9434765918 after a readable MSH: AR, ERR-3 100, no NHS number."""
    control = door.legacy.control_id()
    payload = _search_text(door, control) + "9434765918|x\r"
    with capture_logs() as logs:
        answer = await answer_or_close(_address(door), frame(payload.encode()))
        await door.flush_audit()
    assert answer is not None and acks_of(answer) == [("AR", control, "100")]
    assert b"9434765918" not in answer
    assert "9434765918" not in repr(logs)
    assert "9434765918" not in repr(await door.service.store.audit_entries())


@pytest.mark.parametrize(
    "data",
    [
        frame(b""),
        frame(b"NOT HL7"),
        frame(b"MSH|^~\\&|CAS-APP|CAS-NORTH|||20260101||SQM^S25|||2.5\r"),
        b"GET /Slot?patient:identifier=9434765919 HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["empty", "not-hl7", "no-msh-10", "http"],
)
async def test_unreadable_input_is_a_logged_counted_close(door: Door, data: bytes) -> None:
    """Row 9: empty frames, frames with no MSH-10, HTTP text: connection closed, logged, counted."""
    server = door.app[HL7_FRONT_DOOR]
    before = server.unreadable_closed
    with capture_logs() as logs:
        assert await answer_or_close(_address(door), data) is None
    (line,) = [e for e in logs if e["event"] == "hl7_frame_unreadable"]
    assert line["size"] > 0 if data.strip(b"\x0b\x1c\r") else line["size"] == 0
    assert len(line["sha256"]) == 16
    assert "9434765919" not in repr(logs) and "HTTP" not in repr(logs)
    assert server.unreadable_closed == before + 1
    assert ack_of(await door.legacy.search()).code == "AA"


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
