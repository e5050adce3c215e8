"""One diary, two standards: STU3 consumers and BaRS senders over the same slots at once.

Through the gateway over real sockets, over the embedded diary and real peers
(``tests/bars/_e2e.py``): 50 concurrent bookings of one slot, half over the NHS
Booking API (STU3) and half over BaRS (POST /Appointment and $process-message),
book it once, and every loser hears its own standard's conflict answer; a resent
X-Request-Id never books twice; and one appointment keeps one version history
whichever door changes it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from gateway.examples import EXAMPLE_NHS_NUMBER, booking_body
from tests.bars._e2e import SUPPLIERS, Ports, Supplier, instant
from tests.bars.test_process_message_booking import NEW, example
from tests.bars.test_process_message_booking import NHS_NUMBER as MESSAGE_NHS_NUMBER
from tests.selftest import backends as b

Json = dict[str, Any]
NHS = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture(params=sorted(SUPPLIERS))
async def supplier(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    unused_tcp_port_factory: Ports,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Supplier]:
    """The gateway over one supplier kind, both doors open."""
    monkeypatch.setenv(b.REST_KEY_ENV, b.REST_KEY)
    monkeypatch.setenv(b.SOAP_PASSWORD_ENV, b.SOAP_PASSWORD)
    async with SUPPLIERS[request.param](tmp_path, unused_tcp_port_factory) as found:
        yield found


async def _answer(resp: ClientResponse) -> tuple[str, int, Json]:
    """Which door answered, its status and its body."""
    door = "bars" if "/bars/" in resp.url.path else "stu3"
    return door, resp.status, await resp.json(content_type=None)


async def _message(s: Supplier, slot: Json, **headers: str) -> ClientResponse:
    return await s.bars.client.post(
        "/bars/FHIR/R4/$process-message",
        data=example(NEW, slot),
        headers=s.bars.headers(**{"Content-Type": "application/fhir+xml", **headers}),
    )


def _code(outcome: Json) -> tuple[str, str]:
    """The issue's code and its details code (Spine or REC)."""
    issue = outcome["issue"][0]
    return issue["code"], issue["details"]["coding"][0]["code"]


async def test_fifty_bookings_of_one_slot_across_both_standards_book_it_once(
    supplier: Supplier,
) -> None:
    """25 STU3 and 25 BaRS bookings of one slot at once: one booked, each loser in its own terms."""
    s = supplier
    slot = (await s.bars.free_slots())[0]
    sends = [s.stu3.book(booking_body(slot)) for _ in range(25)]
    sends += [s.bars.book(slot) for _ in range(13)]
    sends += [_message(s, slot) for _ in range(12)]
    answers = [await _answer(r) for r in await asyncio.gather(*sends)]

    won = [a for a in answers if a[1] in (200, 201)]
    assert len(won) == 1, [(d, st) for d, st, _ in answers]
    for door, status, body in answers:
        if (door, status, body) in won:
            continue
        if door == "stu3":
            assert (status, _code(body)[1]) == (422, "SLOT_NOT_FREE"), body
        else:
            assert (status, _code(body)) == (409, ("conflict", "REC_CONFLICT")), body
    door, status, body = won[0]
    winner = body["entry"][1]["resource"] if body["resourceType"] == "Bundle" else body
    nhs_number = MESSAGE_NHS_NUMBER if body["resourceType"] == "Bundle" else EXAMPLE_NHS_NUMBER
    held = await s.held(slot)
    assert [(h.status, h.nhs_number) for h in held] == [("booked", nhs_number)]
    assert held[0].start == instant(slot["start"])
    read = await s.stu3.read(f"Appointment/{winner['id']}")
    assert read.status == 200 and (await read.json(content_type=None))["status"] == "booked"
    assert slot["id"] not in await s.bars.offered()


async def _post(s: Supplier, slot: Json, request_id: str) -> ClientResponse:
    return await s.bars.book(slot, **{"X-Request-Id": request_id})


async def _msg(s: Supplier, slot: Json, request_id: str) -> ClientResponse:
    return await _message(s, slot, **{"X-Request-Id": request_id})


SENDS = {"POST /Appointment": (_post, 201), "$process-message": (_msg, 200)}


@pytest.mark.parametrize("how", sorted(SENDS))
async def test_a_resent_x_request_id_never_books_twice(supplier: Supplier, how: str) -> None:
    """Ten concurrent sends of one X-Request-Id, then one more: one booking, the rest 409."""
    s = supplier
    send, created = SENDS[how]
    slot = (await s.bars.free_slots())[0]
    request_id = str(uuid.uuid4())
    responses = await asyncio.gather(*(send(s, slot, request_id) for _ in range(10)))
    answers = [await _answer(r) for r in responses]
    statuses = sorted(st for _, st, _ in answers)
    assert statuses == [created] + [409] * 9, [a[2] for a in answers]
    made = next(body for _, st, body in answers if st == created)
    appointment = made["entry"][1]["resource"] if made["resourceType"] == "Bundle" else made
    for (_, status, body), resp in zip(answers, responses, strict=True):
        if status != 409:
            continue
        # A duplicate either way, never a lost slot: overtaking the first send is
        # "resend later" (Retry-After), after it the answer names what it made.
        assert _code(body) == ("duplicate", "REC_CONFLICT"), body
        if "Retry-After" in resp.headers:
            assert int(resp.headers["Retry-After"]) >= 1
            diagnostics = body["issue"][0]["diagnostics"]
            assert "still being processed" in diagnostics and "after" in diagnostics, body
        else:
            assert resp.headers["Content-Location"].endswith(f"/Appointment/{appointment['id']}")
    resp = await send(s, slot, request_id)
    assert resp.status == 409
    assert _code(await resp.json(content_type=None)) == ("duplicate", "REC_CONFLICT")
    assert resp.headers["Content-Location"].endswith(f"/Appointment/{appointment['id']}")
    assert [h.status for h in await s.held(slot)] == ["booked"]


async def test_one_version_history_whichever_door_changes_it(supplier: Supplier) -> None:
    """Booked and rescheduled over BaRS, cancelled over STU3: one history, one ETag, both doors."""
    s = supplier
    slot, later = await s.bars.free_slots(2)
    booked = await s.bars.book(slot)
    assert booked.status == 201, await booked.text()
    r4 = await booked.json(content_type=None)
    stu3_read = await s.stu3.read(f"Appointment/{r4['id']}")
    assert stu3_read.headers["ETag"] == booked.headers["ETag"] == 'W/"1"'

    moved = {
        **{k: r4[k] for k in ("resourceType", "id", "meta")},
        "slot": [{"reference": f"Slot/{later['id']}"}],
        "start": later["start"],
        "end": later["end"],
    }
    patched = await s.bars.send("PATCH", f"/Appointment/{r4['id']}", moved)
    assert patched.status == 200, await patched.text()
    stu3_read = await s.stu3.read(f"Appointment/{r4['id']}")
    assert stu3_read.headers["ETag"] == patched.headers["ETag"] == 'W/"2"'
    stu3 = await stu3_read.json(content_type=None)
    assert instant(stu3["start"]) == instant(later["start"])
    resp = await s.stu3.cancel(
        r4["id"], {**stu3, "status": "cancelled"}, **{"If-Match": stu3_read.headers["ETag"]}
    )
    assert resp.status == 200, await resp.text()
    assert [h.status for h in await s.held(slot)] == ["cancelled"]
    assert [h.status for h in await s.held(later)] == ["cancelled"]

    again = await s.bars.get(f"/Appointment/{r4['id']}")
    r4_after = await again.json(content_type=None)
    assert again.headers["ETag"] == resp.headers["ETag"] == 'W/"3"'
    assert r4_after["status"] == "cancelled" and r4_after["meta"]["versionId"] == "3"
    assert r4_after["slot"] == [{"reference": f"Slot/{later['id']}"}]
    history = [
        await (await s.stu3.read(f"Appointment/{r4['id']}/_history/{v}")).json(content_type=None)
        for v in (1, 2, 3)
    ]
    assert [(h["status"], instant(h["start"])) for h in history] == [
        ("booked", instant(slot["start"])),
        ("booked", instant(later["start"])),
        ("cancelled", instant(later["start"])),
    ]
    stale = await s.bars.send("PUT", f"/Appointment/{r4['id']}", {**r4, "status": "cancelled"})
    assert stale.status == 409, "the version BaRS read first is no longer current"
    found = await s.bars.get(f"/Appointment?patient:identifier={NHS}|{EXAMPLE_NHS_NUMBER}")
    entries = (await found.json(content_type=None))["entry"]
    assert [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in entries] == [
        (r4["id"], "3")
    ]
