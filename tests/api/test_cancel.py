"""PUT /Appointment/[id] as a version-aware cancel (cancel_an_appointment.md, fs_xti.md)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

from tests.api.conftest import NHS_NUMBER, Consumer, booking_body


async def _booked(consumer: Consumer) -> tuple[dict[str, Any], dict[str, Any]]:
    (slot,) = await consumer.free_slots()
    resp = await consumer.book(booking_body(slot))
    assert resp.status == 201
    return slot, await resp.json(content_type=None)


def _cancelled(appointment: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(appointment)
    body["status"] = "cancelled"
    return body


async def test_cancel_makes_version_2_keeps_version_1_and_frees_the_slot(
    consumer: Consumer,
) -> None:
    """A cancel with the right If-Match makes v2 cancelled, keeps v1 and frees the slot."""
    slot, booked = await _booked(consumer)
    resp = await consumer.cancel(booked["id"], _cancelled(booked), **{"If-Match": 'W/"1"'})
    assert resp.status == 200, await resp.text()
    body = await resp.json(content_type=None)
    assert body["status"] == "cancelled" and body["meta"]["versionId"] == "2"
    assert resp.headers["ETag"] == 'W/"2"'
    assert resp.headers["Location"].endswith(f"/Appointment/{booked['id']}/_history/2")
    v1 = await (await consumer.read(f"Appointment/{booked['id']}/_history/1")).json(
        content_type=None
    )
    assert v1["status"] == "booked"
    current = await (await consumer.read(f"Appointment/{booked['id']}")).json(content_type=None)
    assert current["status"] == "cancelled"
    assert (
        slot["id"] in {s["id"] for s in await consumer.free_slots(1)}
        or (await consumer.book(booking_body(slot))).status == 201
    )


async def test_cancel_changes_only_the_status(consumer: Consumer) -> None:
    """cancel_an_appointment.md: the new version differs from the booked one only in status."""
    slot, booked = await _booked(consumer)
    resp = await consumer.cancel(booked["id"], _cancelled(booked), **{"If-Match": 'W/"1"'})
    assert resp.status == 200, await resp.text()
    cancelled = await resp.json(content_type=None)
    current = await (await consumer.read(f"Appointment/{booked['id']}")).json(content_type=None)
    for version in (cancelled, current):
        assert version["status"] == "cancelled"
        assert {k: v for k, v in version.items() if k not in ("status", "meta")} == {
            k: v for k, v in booked.items() if k not in ("status", "meta")
        }
    contained = {c["resourceType"]: c for c in current["contained"]}
    assert contained["Slot"]["status"] == "busy", "the resource keeps the slot as booked"
    free = await consumer.search(f"&start=ge{slot['start'][:19]}Z&start=le{slot['start'][:19]}Z")
    free_ids = {e["resource"]["id"] for e in (await free.json(content_type=None))["entry"]}
    assert slot["id"] in free_ids, "the diary has freed the slot"


async def test_cancel_without_if_match_is_412(consumer: Consumer) -> None:
    """An update without If-Match is refused with 412 and changes nothing."""
    _, booked = await _booked(consumer)
    resp = await consumer.cancel(booked["id"], _cancelled(booked))
    assert resp.status == 412
    current = await (await consumer.read(f"Appointment/{booked['id']}")).json(content_type=None)
    assert current["status"] == "booked"


async def test_cancel_with_stale_if_match_is_409(consumer: Consumer) -> None:
    """An If-Match naming an old version is 409 Conflict."""
    _, booked = await _booked(consumer)
    first = await consumer.cancel(booked["id"], _cancelled(booked), **{"If-Match": 'W/"1"'})
    assert first.status == 200
    again = await consumer.cancel(booked["id"], _cancelled(booked), **{"If-Match": 'W/"1"'})
    assert again.status == 409
    assert (await again.json(content_type=None))["issue"][0]["details"]["coding"][0][
        "code"
    ] == "CONFLICT"


async def test_changing_anything_but_status_is_422(consumer: Consumer) -> None:
    """Changing anything beside status, or a status other than cancelled, is 422."""
    _, booked = await _booked(consumer)
    changed_description = _cancelled(booked)
    changed_description["description"] = "something else"
    changed_patient = _cancelled(booked)
    next(c for c in changed_patient["contained"] if c["resourceType"] == "Patient")["birthDate"] = (
        "1980-01-01"
    )
    not_cancelled = copy.deepcopy(booked)
    not_cancelled["status"] = "entered-in-error"
    for body in (changed_description, changed_patient, not_cancelled):
        resp = await consumer.cancel(booked["id"], body, **{"If-Match": 'W/"1"'})
        assert resp.status == 422, await resp.text()
    current = await (await consumer.read(f"Appointment/{booked['id']}")).json(content_type=None)
    assert current["status"] == "booked" and current["meta"]["versionId"] == "1"


async def test_cancel_accepts_the_same_instants_with_other_offsets(consumer: Consumer) -> None:
    """fs_times.md: the same instant written with a +01:00 offset is not a change."""
    _, booked = await _booked(consumer)
    body = _cancelled(booked)
    from datetime import datetime, timedelta, timezone

    start = datetime.fromisoformat(body["start"]).astimezone(timezone(timedelta(hours=1)))
    body["start"] = start.isoformat()
    resp = await consumer.cancel(booked["id"], body, **{"If-Match": 'W/"1"'})
    assert resp.status == 200, await resp.text()


async def test_cancelled_appointments_leave_the_patient_search(consumer: Consumer) -> None:
    """search_patient_appointments.md: a cancelled appointment is no longer a current one."""
    _, kept = await _booked(consumer)
    _, gone = await _booked(consumer)
    resp = await consumer.cancel(gone["id"], _cancelled(gone), **{"If-Match": 'W/"1"'})
    assert resp.status == 200
    resp = await consumer.read(
        f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"
    )
    body = await resp.json(content_type=None)
    assert [(e["resource"]["id"], e["resource"]["status"]) for e in body["entry"]] == [
        (kept["id"], "booked")
    ]
    assert body["total"] == 1


async def test_concurrent_cancels_make_one_new_version(consumer: Consumer) -> None:
    """Five racing cancels of version 1: one 200, the others 409, and exactly two versions exist."""
    _, booked = await _booked(consumer)
    answers = await asyncio.gather(
        *(
            consumer.cancel(booked["id"], _cancelled(booked), **{"If-Match": 'W/"1"'})
            for _ in range(5)
        )
    )
    assert sorted(r.status for r in answers) == [200, 409, 409, 409, 409]
    assert (await consumer.read(f"Appointment/{booked['id']}/_history/3")).status == 404


async def test_resent_cancel_request_id_is_409(consumer: Consumer) -> None:
    """er_overview.md: a cancel re-sent with a used X-Request-ID is 409 pointing at the result."""
    _, booked = await _booked(consumer)
    request_id = str(uuid.uuid4())
    first = await consumer.cancel(
        booked["id"], _cancelled(booked), **{"If-Match": 'W/"1"', "X-Request-ID": request_id}
    )
    assert first.status == 200
    again = await consumer.cancel(
        booked["id"], _cancelled(booked), **{"If-Match": 'W/"2"', "X-Request-ID": request_id}
    )
    assert again.status == 409
    assert again.headers["Content-Location"].endswith(f"/Appointment/{booked['id']}/_history/2")
