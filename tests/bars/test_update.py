"""PUT (Update-Existing-Booking) and PATCH (Reschedule-Existing-Booking) of a BaRS Appointment,
over a real gateway on 127.0.0.1 and its embedded diary."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.bars.conftest import Doors

Json = dict[str, Any]
REASON = {"coding": [{"system": "http://snomed.info/sct", "code": "165332000"}]}


async def _json(resp: Any) -> Json:
    data: Json = await resp.json(content_type=None)
    return data


def _rec(outcome: Json) -> tuple[str, str]:
    issue = outcome["issue"][0]
    return issue["details"]["coding"][0]["code"], issue["code"]


async def _booked(doors: Doors, count: int = 2) -> tuple[Json, list[Json]]:
    slots = await doors.bars.free_slots(count)
    made = await doors.bars.book(slots[0])
    assert made.status == 201, await made.text()
    return await _json(made), slots


def _moved(appt: Json, slot: Json) -> Json:
    return {
        "resourceType": "Appointment",
        "id": appt["id"],
        "meta": appt["meta"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "start": slot["start"],
        "end": slot["end"],
    }


async def test_put_changes_the_reason_as_a_new_version_read_over_both_doors(doors: Doors) -> None:
    """PUT with status booked and another reasonCode makes version 2, read alike over STU3."""
    appt, _ = await _booked(doors, 1)
    resp = await doors.bars.send(
        "PUT", f"/Appointment/{appt['id']}", {**appt, "reasonCode": [REASON]}
    )
    assert resp.status == 200, await resp.text()
    after = await _json(resp)
    assert after["meta"]["versionId"] == "2" and after["status"] == "booked"
    assert after["reasonCode"] == [REASON] and resp.headers["ETag"] == 'W/"2"'
    read = await _json(await doors.bars.get(f"/Appointment/{appt['id']}"))
    assert read["reasonCode"] == [REASON]
    stu3 = await _json(await doors.stu3.read(f"Appointment/{appt['id']}"))
    assert stu3["meta"]["versionId"] == "2" and stu3["reason"] == [REASON]
    again = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", after)
    assert again.status == 200 and (await _json(again))["meta"]["versionId"] == "2"


async def test_put_may_not_move_the_slot_or_change_other_elements(doors: Doors) -> None:
    """Update-Existing-Booking: a changed slot or description is 422, naming the element."""
    appt, slots = await _booked(doors)
    moved = {**appt, "slot": [{"reference": f"Slot/{slots[1]['id']}"}]}
    resp = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", moved)
    assert resp.status == 422
    outcome = await _json(resp)
    assert _rec(outcome) == ("REC_UNPROCESSABLE_ENTITY", "business-rule")
    assert outcome["issue"][0]["expression"] == ["Appointment.slot"]
    assert "PATCH" in outcome["issue"][0]["diagnostics"]
    other = {**appt, "description": "something else"}
    resp = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", other)
    assert resp.status == 422
    assert (await _json(resp))["issue"][0]["expression"] == ["Appointment.description"]
    resp = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", {**appt, "status": "noshow"})
    assert resp.status == 422
    assert (await _json(await doors.bars.get(f"/Appointment/{appt['id']}")))["meta"][
        "versionId"
    ] == "1"


async def test_put_update_reads_before_it_writes(doors: Doors) -> None:
    """An update naming a stale version, or a stale lastUpdated, is 409 REC_CONFLICT."""
    appt, _ = await _booked(doors, 1)
    stale = {**appt, "reasonCode": [REASON], "meta": {**appt["meta"], "versionId": "9"}}
    resp = await doors.bars.send("PUT", f"/Appointment/{appt['id']}", stale)
    assert resp.status == 409 and _rec(await _json(resp)) == ("REC_CONFLICT", "conflict")
    old = {**appt["meta"], "lastUpdated": "2020-01-01T00:00:00+00:00"}
    resp = await doors.bars.send(
        "PUT", f"/Appointment/{appt['id']}", {**appt, "reasonCode": [REASON], "meta": old}
    )
    assert resp.status == 409 and _rec(await _json(resp)) == ("REC_CONFLICT", "conflict")


async def test_patch_reschedules_to_a_new_slot_and_frees_the_old_one(doors: Doors) -> None:
    """PATCH with another slot: version 2 holds it, the old slot is free, the new one taken."""
    appt, slots = await _booked(doors)
    resp = await doors.bars.send("PATCH", f"/Appointment/{appt['id']}", _moved(appt, slots[1]))
    assert resp.status == 200, await resp.text()
    after = await _json(resp)
    assert after["meta"]["versionId"] == "2" and after["status"] == "booked"
    assert after["slot"] == [{"reference": f"Slot/{slots[1]['id']}"}]
    assert after["start"] == slots[1]["start"] and after["description"] == appt["description"]
    offered = await doors.bars.offered()
    assert slots[0]["id"] in offered and slots[1]["id"] not in offered
    stu3 = await _json(await doors.stu3.read(f"Appointment/{appt['id']}"))
    assert stu3["meta"]["versionId"] == "2" and stu3["start"] == after["start"]
    resent = await doors.bars.send("PATCH", f"/Appointment/{appt['id']}", _moved(after, slots[0]))
    assert resent.status == 200 and (await _json(resent))["meta"]["versionId"] == "3"


async def test_patch_to_a_taken_slot_is_409_and_keeps_the_booking(doors: Doors) -> None:
    """A reschedule to a slot another patient holds is 409; the first booking stands."""
    appt, slots = await _booked(doors)
    assert (await doors.bars.book(slots[1])).status == 201
    resp = await doors.bars.send("PATCH", f"/Appointment/{appt['id']}", _moved(appt, slots[1]))
    assert resp.status == 409, await resp.text()
    assert _rec(await _json(resp)) == ("REC_CONFLICT", "conflict")
    read = await _json(await doors.bars.get(f"/Appointment/{appt['id']}"))
    assert read["meta"]["versionId"] == "1" and read["slot"] == appt["slot"]
    assert slots[0]["id"] not in await doors.bars.offered()


async def test_patch_may_change_only_the_slot(doors: Doors) -> None:
    """A PATCH changing status or description is 422, without a version 400, JSON Patch 415."""
    appt, slots = await _booked(doors)
    body = {**_moved(appt, slots[1]), "description": "other"}
    resp = await doors.bars.send("PATCH", f"/Appointment/{appt['id']}", body)
    assert resp.status == 422
    assert (await _json(resp))["issue"][0]["expression"] == ["Appointment.description"]
    body = {**_moved(appt, slots[1]), "status": "cancelled"}
    assert (await doors.bars.send("PATCH", f"/Appointment/{appt['id']}", body)).status == 422
    unversioned = {**_moved(appt, slots[1]), "meta": {}}
    resp = await doors.bars.send("PATCH", f"/Appointment/{appt['id']}", unversioned)
    assert resp.status == 400 and _rec(await _json(resp)) == ("REC_BAD_REQUEST", "required")
    same = await doors.bars.send("PATCH", f"/Appointment/{appt['id']}", _moved(appt, slots[0]))
    assert same.status == 422
    patch = [{"op": "replace", "path": "/slot/0/reference", "value": f"Slot/{slots[1]['id']}"}]
    resp = await doors.bars.send(
        "PATCH",
        f"/Appointment/{appt['id']}",
        patch,  # type: ignore[arg-type]
        **{"Content-Type": "application/json-patch+json"},
    )
    assert resp.status == 415


async def test_a_resent_patch_reschedules_once(doors: Doors) -> None:
    """The same X-Request-Id sent twice: one reschedule, then 409 duplicate naming it."""
    appt, slots = await _booked(doors)
    rid = "8a1d3a52-6c43-4f1b-9c4e-bb0b3f9b1a11"
    body = _moved(appt, slots[1])
    first = await doors.bars.send(
        "PATCH", f"/Appointment/{appt['id']}", body, **{"X-Request-Id": rid}
    )
    assert first.status == 200
    again = await doors.bars.send(
        "PATCH", f"/Appointment/{appt['id']}", body, **{"X-Request-Id": rid}
    )
    assert again.status == 409
    assert _rec(await _json(again)) == ("REC_CONFLICT", "duplicate")
    read = await _json(await doors.bars.get(f"/Appointment/{appt['id']}"))
    assert read["meta"]["versionId"] == "2"


async def test_concurrent_reschedules_of_one_booking_make_one_version(doors: Doors) -> None:
    """Two reschedules of one version at once: one wins, the other is 409; one slot is held."""
    appt, slots = await _booked(doors, 3)
    results = await asyncio.gather(
        doors.bars.send("PATCH", f"/Appointment/{appt['id']}", _moved(appt, slots[1])),
        doors.bars.send("PATCH", f"/Appointment/{appt['id']}", _moved(appt, slots[2])),
    )
    assert sorted(r.status for r in results) == [200, 409]
    offered = await doors.bars.offered()
    held = [s["id"] for s in slots if s["id"] not in offered]
    assert len(held) == 1
    read = await _json(await doors.bars.get(f"/Appointment/{appt['id']}"))
    assert read["meta"]["versionId"] == "2" and read["slot"] == [{"reference": f"Slot/{held[0]}"}]
