"""A BaRS sender end to end over every supplier kind, checking what the supplier stored.

Over real sockets: the gateway on 127.0.0.1 in front of the embedded diary, the
HL7 v2 PAS peer, the REST diary peer and the SOAP diary peer (``tests/bars/_e2e.py``).
After each step the supplier's own store or API is read: the booked slot is held
for the right patient at the slot's times, unchanged by a reason update, given up
for the new slot by a reschedule, and cancelled after the cancel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.bars import wire
from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.fhir.formats import WireFormat
from tests.bars._e2e import SUPPLIERS, Held, Ports, Supplier, instant
from tests.bars.test_process_message_booking import CANCELLED, NEW, example, focus, post
from tests.bars.test_process_message_booking import NHS_NUMBER as MESSAGE_NHS_NUMBER
from tests.samples import ROOT, absent
from tests.selftest import backends as b

Json = dict[str, Any]
NHS = "https://fhir.nhs.uk/Id/nhs-number"
REFREQ01 = (
    ROOT.parent
    / "shared"
    / "spec"
    / "bars"
    / "examples"
    / "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.xml"
)
REASON = {"coding": [{"system": "http://snomed.info/sct", "code": "165332000"}]}
#: REFREQ01's NHS number fails the Modulus 11 check (docs/spec-choices.md).
REFREQ01_NHS_NUMBER = b"3478526985"


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


def held(status: str, nhs_number: str, slot: Json) -> Held:
    return Held(status, nhs_number, instant(slot["start"]), instant(slot["end"]))


async def _json(resp: Any) -> Json:
    data: Json = await resp.json(content_type=None)
    return data


async def _read(s: Supplier, appointment: Json, slot: Json) -> Json:
    resp = await s.bars.get(f"/Appointment/{appointment['id']}")
    assert resp.status == 200, await resp.text()
    read = await _json(resp)
    assert read["status"] == "booked" and read["meta"]["versionId"] == "1"
    assert read["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    assert instant(read["start"]) == instant(slot["start"])
    return read


async def _update_and_reschedule(s: Supplier, current: Json, slot: Json, to: Json) -> Json:
    """PUT a new reasonCode (version 2), then PATCH to ``to`` (version 3), checking the diary."""
    update = {**current, "reasonCode": [REASON]}
    resp = await s.bars.send("PUT", f"/Appointment/{current['id']}", update)
    assert resp.status == 200, await resp.text()
    updated = await _json(resp)
    assert updated["meta"]["versionId"] == "2" and updated["reasonCode"] == [REASON]
    # The diary keeps no reason: the booking there is as it was.
    assert await s.held(slot) == [held("booked", EXAMPLE_NHS_NUMBER, slot)]
    moved = {
        "resourceType": "Appointment",
        "id": current["id"],
        "meta": updated["meta"],
        "slot": [{"reference": f"Slot/{to['id']}"}],
        "start": to["start"],
        "end": to["end"],
    }
    resp = await s.bars.send("PATCH", f"/Appointment/{current['id']}", moved)
    assert resp.status == 200, await resp.text()
    rescheduled = await _json(resp)
    assert rescheduled["meta"]["versionId"] == "3" and rescheduled["reasonCode"] == [REASON]
    assert rescheduled["slot"] == [{"reference": f"Slot/{to['id']}"}]
    assert await s.held(slot) == [held("cancelled", EXAMPLE_NHS_NUMBER, slot)], "old slot free"
    assert await s.held(to) == [held("booked", EXAMPLE_NHS_NUMBER, to)], "new slot held"
    offered = await s.bars.offered()
    assert slot["id"] in offered and to["id"] not in offered
    return rescheduled


async def _patient_search(s: Supplier, nhs_number: str) -> list[Json]:
    resp = await s.bars.get(f"/Appointment?patient:identifier={NHS}|{nhs_number}")
    assert resp.status == 200, await resp.text()
    return [e["resource"] for e in (await _json(resp)).get("entry", [])]


async def test_book_both_ways_read_update_reschedule_and_cancel_at_the_supplier(
    supplier: Supplier,
) -> None:
    """Booked by message and by POST, read, updated, rescheduled and cancelled: so in the diary."""
    s = supplier
    by_message_slot, by_post_slot, later_slot = await s.bars.free_slots(3)
    assert await s.held(by_message_slot) == [] and await s.held(by_post_slot) == []

    status, answer, _ = await post(s.bars, example(NEW, by_message_slot))
    assert status == 200, answer
    by_message = focus(answer)
    assert await s.held(by_message_slot) == [held("booked", MESSAGE_NHS_NUMBER, by_message_slot)]

    resp = await s.bars.book(by_post_slot)
    assert resp.status == 201, await resp.text()
    by_post = await _json(resp)
    assert await s.held(by_post_slot) == [held("booked", EXAMPLE_NHS_NUMBER, by_post_slot)]

    await _read(s, by_message, by_message_slot)
    current = await _read(s, by_post, by_post_slot)
    assert [a["id"] for a in await _patient_search(s, MESSAGE_NHS_NUMBER)] == [by_message["id"]]
    assert [a["id"] for a in await _patient_search(s, EXAMPLE_NHS_NUMBER)] == [by_post["id"]]
    offered = await s.bars.offered()
    assert by_message_slot["id"] not in offered and by_post_slot["id"] not in offered

    rescheduled = await _update_and_reschedule(s, current, by_post_slot, later_slot)
    current = await _json(await s.bars.get(f"/Appointment/{by_post['id']}"))
    assert current == rescheduled
    cancel = {**current, "status": "cancelled"}
    resp = await s.bars.send("PUT", f"/Appointment/{by_post['id']}", cancel)
    assert resp.status == 200, await resp.text()
    assert (await _json(resp))["meta"]["versionId"] == "4"
    assert await s.held(later_slot) == [held("cancelled", EXAMPLE_NHS_NUMBER, later_slot)]
    assert await s.held(by_message_slot) == [held("booked", MESSAGE_NHS_NUMBER, by_message_slot)]

    status, answer, _ = await post(s.bars, example(CANCELLED, by_message_slot))
    assert status == 200, answer
    cancelled = focus(answer)
    assert cancelled["id"] == by_message["id"] and cancelled["status"] == "cancelled"
    assert await s.held(by_message_slot) == [held("cancelled", MESSAGE_NHS_NUMBER, by_message_slot)]
    offered = await s.bars.offered()
    assert {by_message_slot["id"], by_post_slot["id"], later_slot["id"]} <= offered
    found = await _patient_search(s, MESSAGE_NHS_NUMBER)
    assert [a["status"] for a in found] == ["cancelled"]


def _referral_for(appointment_id: str) -> bytes:
    """REFREQ01 as published, naming ``appointment_id``, its patient's NHS number valid."""
    if not REFREQ01.exists():
        pytest.skip(absent(REFREQ01))
    message = wire.load(
        REFREQ01.read_bytes().replace(REFREQ01_NHS_NUMBER, EXAMPLE_NHS_NUMBER.encode()),
        WireFormat.XML,
    )
    request = next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    )
    request["supportingInfo"] = [{"reference": f"Appointment/{appointment_id}"}]
    return wire.dump(message, WireFormat.XML)


async def test_a_referral_linked_to_a_booking_reads_back(supplier: Supplier) -> None:
    """A referral naming a booking is linked and read by id and patient; the diary is unchanged."""
    s = supplier
    slot = (await s.bars.free_slots())[0]
    resp = await s.bars.book(slot)
    assert resp.status == 201, await resp.text()
    appointment = await _json(resp)

    resp = await s.bars.client.post(
        "/bars/FHIR/R4/$process-message",
        data=_referral_for(appointment["id"]),
        headers=s.bars.headers(**{"Content-Type": "application/fhir+xml"}),
    )
    assert resp.status == 200, await resp.text()
    answer = await _json(resp)
    stored = next(
        e["resource"] for e in answer["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    )
    link = [{"reference": f"Appointment/{appointment['id']}", "display": "Booking"}]
    assert stored["supportingInfo"] == link and stored["status"] == "active"

    read = await s.bars.get(f"/ServiceRequest/{stored['id']}")
    assert read.status == 200, await read.text()
    assert await _json(read) == stored
    found = await _json(
        await s.bars.get(f"/ServiceRequest?patient:identifier={NHS}|{EXAMPLE_NHS_NUMBER}")
    )
    matches = [e["resource"] for e in found["entry"] if e["search"]["mode"] == "match"]
    assert [m["id"] for m in matches] == [stored["id"]]
    assert matches[0]["supportingInfo"] == link
    assert await s.held(slot) == [held("booked", EXAMPLE_NHS_NUMBER, slot)]
