"""Booking and reading back: book_an_appointment.md, get_an_appointment.md, fs_xti.md."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from gateway.examples import booking_body
from gateway.security.interactions import Interaction
from gateway.selftest._fhir import (
    INVALID_NHS_NUMBER,
    expect_refusal,
    first_issue_parts,
    searchset,
    slot_ids,
    spine_codes,
)
from gateway.selftest._http import Reply
from gateway.selftest._run import Booking, Check, Run, check, expect
from gateway.selftest.checks.slots import search, window

CHECKS: list[Check] = []
BOOK = "book_an_appointment.md"
GET = "get_an_appointment.md"


async def _post(run: Run, body: dict[str, Any] | bytes, why: str, **options: Any) -> Reply:
    reply = await run.consumer.send(Interaction.BOOK, "/Appointment", body=body, **options)
    run.booked(reply, why)
    return reply


def _version_url(reply: Reply, header: str, appointment_id: str, version: str) -> str | None:
    """What is wrong with ``header`` as [base]/Appointment/[id]/_history/[vid], or None."""
    value = reply.headers.get(header, "")
    tail = f"/Appointment/{appointment_id}/_history/{version}"
    if not value.startswith(("http://", "https://")) or not value.endswith(tail):
        return f"expected {header} …{tail} (absolute), saw {value!r}"
    return None


@check(CHECKS, "book-201", BOOK)
async def book(run: Run) -> None:
    """201, Location [base]/Appointment/[id]/_history/[vid], ETag, and the created Appointment."""
    body = booking_body(run.slot(0))
    request_id = f"selftest-book-{uuid.uuid4()}"
    reply = await _post(run, body, "book-201", headers={"X-Request-ID": request_id})
    created = reply.resource()
    expect(
        reply.status == 201 and reply.resource_type == "Appointment",
        f"expected 201 Appointment, saw {reply.seen()}",
    )
    appointment_id = str(created.get("id") or "")
    version = str((created.get("meta") or {}).get("versionId") or "")
    expect(appointment_id and version, "the created Appointment has no id or meta.versionId")
    run.state.booking = Booking(appointment_id, version, created, body, reply)
    problem = _version_url(reply, "Location", appointment_id, version)
    expect(problem is None, str(problem))
    # implementation_api.md: servers SHALL always return an ETag W/"versionId".
    etag = reply.headers.get("ETag")
    expect(etag == f'W/"{version}"', f'expected ETag W/"{version}", saw {etag!r}')
    expect(created.get("status") == "booked", f"status is {created.get('status')!r}, not booked")


@check(CHECKS, "book-slot-leaves-free-search", f"{BOOK}, search_slots.md")
async def slot_busy(run: Run) -> None:
    """The booked slot is no longer offered free, and a status=busy search finds it."""
    run.booking()
    slot_id = str(run.slot(0)["id"])
    free = slot_ids(await _searchset(run, "free"))
    expect(slot_id not in free, f"booked slot {slot_id} is still offered with status=free")
    busy = slot_ids(await _searchset(run, "busy"))
    expect(slot_id in busy, f"booked slot {slot_id} is missing from status=busy")


async def _searchset(run: Run, status: str) -> dict[str, Any]:
    return searchset(await search(run, ("status", status), *window(run)), f"status={status}")


@check(CHECKS, "read-200", GET)
async def read(run: Run) -> None:
    """GET /Appointment/[id]: 200, the Appointment with its id, versionId and ETag."""
    booking = run.booking()
    reply = await run.consumer.send(Interaction.READ, f"/Appointment/{booking.id}")
    _expect_version(reply, booking.id, booking.version)


@check(CHECKS, "vread-200", GET)
async def vread(run: Run) -> None:
    """GET /Appointment/[id]/_history/[vid]: that version."""
    booking = run.booking()
    reply = await run.consumer.send(
        Interaction.READ, f"/Appointment/{booking.id}/_history/{booking.version}"
    )
    _expect_version(reply, booking.id, booking.version)


def _expect_version(reply: Reply, appointment_id: str, version: str) -> dict[str, Any]:
    found = reply.resource()
    expect(
        reply.status == 200 and reply.resource_type == "Appointment",
        f"expected 200 Appointment, saw {reply.seen()}",
    )
    seen = (found.get("id"), (found.get("meta") or {}).get("versionId"))
    expect(seen == (appointment_id, version), f"expected {appointment_id} v{version}, saw {seen}")
    etag = reply.headers.get("ETag")
    expect(etag == f'W/"{version}"', f'expected ETag W/"{version}", saw {etag!r}')
    return found


@check(CHECKS, "read-unknown-404", f"{GET}, er_overview.md")
async def read_unknown(run: Run) -> None:
    """An appointment that does not exist: 404 and an OperationOutcome."""
    reply = await run.consumer.send(Interaction.READ, f"/Appointment/{uuid.uuid4()}")
    expect_refusal(reply, (404,), "reading an unknown appointment")


@check(CHECKS, "book-resent-request-id-409", "fs_xti.md, er_overview.md")
async def resent(run: Run) -> None:
    """The same booking with the same X-Request-ID: 409 pointing at the original, no booking."""
    booking = run.booking()
    request_id = booking.reply.request_id or ""
    reply = await _post(
        run, booking.body, "book-resent-request-id-409", headers={"X-Request-ID": request_id}
    )
    expect_refusal(reply, (409,), "a resent X-Request-ID")
    problem = _version_url(reply, "Content-Location", booking.id, booking.version)
    expect(problem is None, f"409 should point at the original: {problem}")


@check(CHECKS, "book-slot-taken-422", BOOK)
async def taken(run: Run) -> None:
    """Booking a slot that is no longer free (new X-Request-ID): 422 and an OperationOutcome."""
    booking = run.booking()
    reply = await _post(run, booking.body, "book-slot-taken-422")
    expect_refusal(reply, (422,), "booking a taken slot")


@check(CHECKS, "book-slot-taken-outcome", f"{BOOK}, er_overview.md")
async def taken_outcome(run: Run) -> None:
    """The taken-slot OperationOutcome: issue code processing, "Slot no longer available"."""
    booking = run.booking()
    reply = await _post(run, booking.body, "book-slot-taken-outcome")
    code, diagnostics = first_issue_parts(reply)
    expect(
        reply.status == 422 and code == "processing",
        f"expected 422 with issue code 'processing', saw {reply.seen()}",
    )
    expect(
        "slot no longer available" in diagnostics.lower(),
        f"expected diagnostics 'Slot no longer available', saw {diagnostics!r}",
    )


@check(CHECKS, "book-invalid-nhs-number-422", "er_overview.md, fs_fhir_overrides.md")
async def invalid_nhs_number(run: Run) -> None:
    """An NHS number with a wrong check digit: 422 INVALID_NHS_NUMBER, nothing booked."""
    body = booking_body(run.slot(1), nhs_number=INVALID_NHS_NUMBER)
    reply = await _post(run, body, "book-invalid-nhs-number-422")
    expect_refusal(reply, (422,), "an invalid NHS number")
    codes = spine_codes(reply)
    expect("INVALID_NHS_NUMBER" in codes, f"expected INVALID_NHS_NUMBER, saw {codes}")


@check(CHECKS, "gzip-request", "implementation_api.md")
async def gzip_request(run: Run) -> None:
    """A gzip request body is read: the same invalid booking, compressed, is 422 too."""
    body = booking_body(run.slot(1), nhs_number=INVALID_NHS_NUMBER)
    reply = await _post(run, body, "gzip-request", compress=True)
    codes = spine_codes(reply)
    expect(
        reply.status == 422 and "INVALID_NHS_NUMBER" in codes,
        f"expected 422 INVALID_NHS_NUMBER from the decompressed body, saw {reply.seen()}",
    )


@check(CHECKS, "gzip-request-undecodable-400", "implementation_api.md, er_overview.md")
async def gzip_undecodable(run: Run) -> None:
    """A body sent as gzip that is not gzip is malformed: 400, never a server error."""
    reply = await _post(
        run,
        b'{"resourceType": "Appointment"}',
        "gzip-request-undecodable-400",
        # Its own connection: a server may close one whose body it could not read.
        headers={"Content-Encoding": "gzip", "Connection": "close"},
    )
    expect_refusal(reply, (400,), "Content-Encoding gzip on a plain body")


@check(CHECKS, "book-malformed-400", f"{BOOK}, er_overview.md")
async def malformed(run: Run) -> None:
    """A body that is not even JSON: 400 and an OperationOutcome."""
    reply = await _post(run, b'{"resourceType": "Appointment", "status": ', "book-malformed-400")
    expect_refusal(reply, (400,), "a truncated JSON body")


@check(CHECKS, "book-concurrent-one-wins", f"{BOOK}, fs_xti.md")
async def concurrent(run: Run) -> None:
    """N bookings of one slot at once (distinct X-Request-IDs): exactly one 201."""
    body = booking_body(run.slot(1))
    replies = await asyncio.gather(
        *(_post(run, body, "book-concurrent-one-wins") for _ in range(run.options.parallel))
    )
    statuses = sorted(r.status for r in replies)
    created = statuses.count(201)
    # book_an_appointment.md says 422 for a slot no longer free, er_overview.md 409.
    losers_ok = all(s in (409, 422) for s in statuses if s != 201)
    expect(
        created == 1 and losers_ok,
        f"expected one 201 and the rest 422 (or 409), saw {statuses}",
    )
