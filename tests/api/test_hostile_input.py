"""Bad input of any kind gets a clear OperationOutcome, never a stack trace or a 500."""

from __future__ import annotations

import json

from tests.api.conftest import (
    READ_APPTS,
    READ_SLOTS,
    SERVICE_ROOT_PATH,
    WRITE_APPTS,
    Consumer,
    booking_body,
)

NASTY_VALUES = (
    "",
    " ",
    "%00",
    "x" * 5000,
    "'; DROP TABLE slots; --",
    "\u202e",
    "ge",
    "le9999-99-99",
    "%FF%FE",
)


async def _assert_clean(resp_status: int, body: bytes, what: str) -> None:
    assert resp_status < 500, what
    if resp_status >= 400:
        outcome = json.loads(body)
        assert outcome["resourceType"] == "OperationOutcome", what
        assert outcome["id"] and outcome["issue"][0]["diagnostics"], what
        assert "Traceback" not in body.decode(), what


async def test_nasty_query_values_never_break_slot_search(consumer: Consumer) -> None:
    """Every nasty value in each slot search parameter answers 2xx or a 4xx OperationOutcome."""
    for name in (
        "service",
        "status",
        "start",
        "_include",
        "_format",
        "schedule.actor:healthcareservice",
    ):
        for value in NASTY_VALUES:
            resp = await consumer.client.get(
                f"{SERVICE_ROOT_PATH}/Slot?service=918999198999&{name}={value}",
                headers=consumer.headers(READ_SLOTS, "read:slot"),
            )
            await _assert_clean(resp.status, await resp.read(), f"{name}={value!r}")


async def test_nasty_ids_and_searches_never_break_reads(consumer: Consumer) -> None:
    """Odd appointment ids, versions and patient searches answer 4xx OperationOutcomes."""
    for path in (
        "Appointment/%00",
        "Appointment/" + "a" * 3000,
        "Appointment/x/_history/-1",
        "Appointment/x/_history/99999999999999999999",
        "Appointment?patient:identifier=",
        "Appointment?patient:identifier=|",
        "Appointment?patient:identifier=https://evil|9434765919",
    ):
        resp = await consumer.read(path)
        await _assert_clean(resp.status, await resp.read(), path)


async def test_nasty_bodies_never_break_booking(consumer: Consumer) -> None:
    """Deep nesting, huge strings, wrong types and junk bytes in a booking are 4xx, not 500."""
    (slot,) = await consumer.free_slots()
    deep = b'{"resourceType": "Appointment", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    wrong_types = booking_body(slot)
    wrong_types["contained"][1]["birthDate"] = "not-a-date"
    bad_gender = booking_body(slot)
    bad_gender["contained"][1]["gender"] = "sometimes"
    numbers = booking_body(slot)
    numbers["contained"][2]["identifier"] = [{"system": "x", "value": 12}]
    bodies = [
        deep,
        json.dumps(
            {"resourceType": "Appointment", "status": "booked", "description": "x" * 2_000_000}
        ).encode(),
        json.dumps(wrong_types).encode(),
        json.dumps(bad_gender).encode(),
        json.dumps(numbers).encode(),
        b"\x00" * 100,
        b'{"resourceType": "Appointment", "contained": "nope"}',
        b'{"resourceType": "Appointment", "contained": [1, 2, 3]}',
        b'{"resourceType": "Appointment", "participant": [{"actor": 5}]}',
    ]
    for body in bodies:
        resp = await consumer.book(body)
        await _assert_clean(resp.status, await resp.read(), repr(body[:60]))


async def test_nasty_cancel_requests(consumer: Consumer) -> None:
    """Junk If-Match values and bodies on PUT are 4xx OperationOutcomes."""
    (slot,) = await consumer.free_slots()
    booked = await (await consumer.book(booking_body(slot))).json(content_type=None)
    for if_match in ("", "W/", 'W/"abc"', "*", "1" * 400):
        resp = await consumer.cancel(
            booked["id"], {**booked, "status": "cancelled"}, **{"If-Match": if_match}
        )
        await _assert_clean(resp.status, await resp.read(), if_match)
    resp = await consumer.client.put(
        f"{SERVICE_ROOT_PATH}/Appointment/{booked['id']}",
        data=b"[1,2",
        headers={
            **consumer.headers(WRITE_APPTS, "update:appointment"),
            "Content-Type": "application/fhir+json",
            "If-Match": 'W/"1"',
        },
    )
    await _assert_clean(resp.status, await resp.read(), "broken json")
    still = await (await consumer.read(f"Appointment/{booked['id']}")).json(content_type=None)
    assert still["status"] == "booked"
    _ = READ_APPTS
