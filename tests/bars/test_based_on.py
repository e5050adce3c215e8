"""BaRS Appointment.basedOn: the stored referral linked to the appointment, R4-named.

Over a real gateway on 127.0.0.1 serving both doors (the fixture of
``tests/api/test_referral_read.py``): a referral linked in either order is named
as ``ServiceRequest/<id>``, never STU3's ``ReferralRequest``, and a change sent
back with basedOn as read is not a change of the referral link.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import NHS_NUMBER
from tests.api.test_referral_read import NHS, _book_stu3, _json, _message, _send, doors
from tests.bars.conftest import Doors

Json = dict[str, Any]
__all__ = ["doors"]


@pytest.mark.parametrize("stored", [True, False], ids=["stored referral", "not stored"])
async def test_an_stu3_booking_naming_a_referral_request_shows_a_service_request_over_r4(
    doors: Doors, stored: bool
) -> None:
    """An STU3 incomingReferral ReferralRequest/<id> reads over BaRS as ServiceRequest/<id>."""
    referral_id = (await _send(doors, _message()))["id"] if stored else "elsewhere-42"
    booked = await _book_stu3(
        doors, incomingReferral=[{"reference": f"ReferralRequest/{referral_id}"}]
    )
    r4 = await _json(await doors.bars.get(f"/Appointment/{booked['id']}"))
    assert r4["basedOn"] == [{"reference": f"ServiceRequest/{referral_id}"}]


async def test_a_search_by_patient_names_the_referral_linked_after_the_booking(
    doors: Doors,
) -> None:
    """GET /Appointment?patient:identifier=: each entry's basedOn names its linked referral."""
    booked = await _book_stu3(doors)
    stored = await _send(doors, _message(booked["id"]))
    found = await _json(await doors.bars.get(f"/Appointment?patient:identifier={NHS}|{NHS_NUMBER}"))
    entry = next(e["resource"] for e in found["entry"] if e["resource"]["id"] == booked["id"])
    assert entry["basedOn"] == [{"reference": f"ServiceRequest/{stored['id']}"}]


async def test_a_bars_cancel_may_send_back_the_based_on_it_read(doors: Doors) -> None:
    """PUT cancel with basedOn as read (linked later) is 200; naming another referral is 422."""
    booked = await _book_stu3(doors)
    stored = await _send(doors, _message(booked["id"]))
    read = await _json(await doors.bars.get(f"/Appointment/{booked['id']}"))
    path = f"/Appointment/{booked['id']}"
    other = {**read, "status": "cancelled", "basedOn": [{"reference": "ServiceRequest/x9"}]}
    assert (await doors.bars.send("PUT", path, other)).status == 422
    resp = await doors.bars.send("PUT", path, {**read, "status": "cancelled"})
    assert resp.status == 200, await resp.text()
    cancelled = await _json(resp)
    assert cancelled["status"] == "cancelled"
    assert cancelled["basedOn"] == [{"reference": f"ServiceRequest/{stored['id']}"}]
