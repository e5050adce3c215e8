"""The journey trace of HL7 v2 front-door bookings, read and verified with ``uec-gateway trace``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from gateway.trace.recorder import TRACE
from tests.hl7_front_door.conftest import Door
from tests.hl7_front_door.conftest import door as door
from tests.hl7_front_door.conftest import start_door as start_door
from tests.hl7_front_door.legacy import NHS_NUMBER, ack_of, appointment
from tests.trace.rig import execute, raw_rows, trace_cli


async def booked_and_cancelled(door: Door) -> tuple[str, str, str]:
    """MSH-10 of a booking and of its cancel, and the appointment id, all traced."""
    (offer,) = await door.legacy.offers()
    # Eight hex digits never hold an NHS number, so MSH-10 is kept as sent (not fingerprinted).
    tag = uuid.uuid4().hex[:8]
    book_id, cancel_id = f"TRACE-{tag}-BOOK", f"TRACE-{tag}-CANCEL"
    booked = await door.legacy.book(offer, control_id=book_id)
    assert ack_of(booked).code == "AA"
    appointment_id = appointment(booked).filler_id
    cancelled = await door.legacy.cancel(appointment_id, control_id=cancel_id)
    assert ack_of(cancelled).code == "AA"
    await door.app[TRACE].flush()
    return book_id, cancel_id, appointment_id


async def journey_of(door: Door, value: str) -> dict[str, Any]:
    found = await trace_cli(value, "--config", str(door.config), "--json")
    assert found.returncode == 0, (value, found.stderr)
    journey: dict[str, Any] = json.loads(found.stdout)
    return journey


async def test_an_hl7_booking_and_cancel_are_one_journey_from_msh10(door: Door) -> None:
    """``trace MSH-10`` of the booking, of the cancel, or the appointment id prints one
    journey: the SRM^S01, its supplier calls (the slot found, then booked), the SRM^S04
    and its supplier call."""
    book_id, cancel_id, appointment_id = await booked_and_cancelled(door)
    journeys = [await journey_of(door, v) for v in (book_id, cancel_id, appointment_id)]
    assert len({j["journey_id"] for j in journeys}) == 1
    hops = journeys[0]["hops"]
    assert [h["kind"] for h in hops] == [
        "inbound.hl7v2.book",
        "supplier.search",
        "supplier.book",
        "inbound.hl7v2.cancel",
        "supplier.cancel",
    ]
    assert [h["outcome"] for h in hops] == ["AA", "ok", "ok", "AA", "ok"]
    assert hops[0]["ids"]["msh10"] == book_id and hops[3]["ids"]["msh10"] == cancel_id
    assert hops[0]["ids"]["appointment_id"] == appointment_id
    table = await trace_cli(book_id, "--config", str(door.config))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == f"journey {journeys[0]['journey_id']} (5 hops)"
    assert "inbound.hl7v2.book" in lines[2] and f"msh10={book_id}" in lines[2]


async def test_an_unknown_id_is_an_error_not_an_empty_journey(door: Door) -> None:
    """``trace`` of an id never seen exits 1 saying so; no ID and no --verify exits 2."""
    found = await trace_cli("never-seen-id", "--config", str(door.config))
    assert found.returncode == 1 and "no journey has this id" in found.stderr
    assert (await trace_cli("--config", str(door.config))).returncode == 2


async def test_a_tampered_row_makes_verify_fail_naming_it(door: Door) -> None:
    """``trace --verify`` passes on what the gateway wrote, and after one stored outcome is
    edited exits 1 naming that journey's entry (for every journey, and for its MSH-10)."""
    book_id, _, _ = await booked_and_cancelled(door)
    ok = await trace_cli("--verify", "--config", str(door.config))
    assert ok.returncode == 0 and ok.stdout.startswith("OK: "), ok.stderr
    journey_id = (await journey_of(door, book_id))["journey_id"]
    await execute(
        door.config,
        "UPDATE trace_hops SET outcome = 'AE' WHERE kind = 'inbound.hl7v2.cancel'",
    )
    for args in (["--verify"], ["--verify", book_id]):
        broken = await trace_cli(*args, "--config", str(door.config))
        assert broken.returncode == 1
        assert f"journey {journey_id} entry 4 (inbound.hl7v2.cancel" in broken.stderr


async def test_no_patient_value_of_the_hl7_message_is_stored(door: Door) -> None:
    """The trace tables hold neither the PID's NHS number nor its name, address or phone."""
    await booked_and_cancelled(door)
    text = repr(await raw_rows(door.config))
    assert "inbound.hl7v2.book" in text
    for value in (NHS_NUMBER, "Smith", "Jane", "LS1 1AA", "07700900123", "19800101"):
        assert value not in text
