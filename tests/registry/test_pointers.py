"""A booking through any door puts a pointer in the registry; a reschedule moves it; a cancel
removes it (DocumentReference-StandardPattern), over real sockets."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from adapters.hl7v2.peer.server import DeskPatient, PasPeer
from gateway.examples import EXAMPLE_NHS_NUMBER, booking_body
from gateway.registry.peer import RegistryPeer
from tests.bars.test_process_message_booking import CANCELLED, NEW, example, focus, post
from tests.hl7v2.gateway import PasConsumer
from tests.registry.conftest import CUSTODIAN, NHS, PRODUCT, Start, eventually, pointers_of

BARS = "https://fhir.nhs.uk/Id/BaRS-Identifier"
DOS = "https://fhir.nhs.uk/Id/dos-service-id"


async def _json(resp: Any) -> Any:
    return await resp.json(content_type=None)


def _one(registry: RegistryPeer, appointment_id: str) -> dict[str, Any]:
    (pointer,) = pointers_of(registry, appointment_id)
    return pointer


async def test_stu3_booking_makes_a_pointer_and_its_cancel_deletes_it(
    gateway: Start, registry: RegistryPeer
) -> None:
    """An STU3 booking's pointer names the appointment, service, patient, slot time and BaRS
    URL; cancelling the booking deletes it."""
    running = await gateway(registry.url)
    (slot,) = await running.stu3.free_slots()
    resp = await running.stu3.book(booking_body(slot))
    assert resp.status == 201, await resp.text()
    booked = await _json(resp)

    async def made() -> bool:
        return len(pointers_of(registry, booked["id"])) == 1

    await eventually(made)
    pointer = _one(registry, booked["id"])
    identifiers = {i["system"]: i["value"] for i in pointer["identifier"]}
    assert identifiers[BARS] == booked["id"]
    assert identifiers[DOS] == "2000099999", "the DoS id a BaRS sender targets"
    assert identifiers["https://fhir.nhs.uk/id/product-id"] == PRODUCT
    assert pointer["subject"]["identifier"] == {"system": NHS, "value": EXAMPLE_NHS_NUMBER}
    assert pointer["custodian"]["identifier"]["value"] == CUSTODIAN
    assert pointer["type"]["coding"][0]["code"] == "749001000000101"
    period = pointer["context"]["period"]
    assert datetime.fromisoformat(period["start"]) == datetime.fromisoformat(slot["start"])
    assert datetime.fromisoformat(period["end"]) == datetime.fromisoformat(slot["end"])
    url = pointer["content"][0]["attachment"]["url"]
    assert url == f"{running.settings.bars.service_root}/Appointment/{booked['id']}"  # type: ignore[union-attr]
    read = await running.bars.get(f"/Appointment/{booked['id']}")
    assert read.status == 200, "the pointer's URL reads the booking over BaRS"

    cancelled = copy.deepcopy(booked)
    cancelled["status"] = "cancelled"
    resp = await running.stu3.cancel(booked["id"], cancelled, **{"If-Match": 'W/"1"'})
    assert resp.status == 200, await resp.text()

    async def gone() -> bool:
        return not pointers_of(registry, booked["id"])

    await eventually(gone)


async def test_bars_bookings_make_pointers_and_a_search_finds_them(
    gateway: Start, registry: RegistryPeer
) -> None:
    """Two BaRS bookings make two pointers, found by a search on the patient and type."""
    running = await gateway(registry.url)
    slots = await running.bars.free_slots(2)
    ids = []
    for slot in slots:
        resp = await running.bars.book(slot)
        assert resp.status == 201, await resp.text()
        ids.append((await _json(resp))["id"])

    async def both() -> bool:
        return all(len(pointers_of(registry, i)) == 1 for i in ids)

    await eventually(both)
    search = await running.client.session.get(
        f"{registry.url}/DocumentReference",
        params={
            "subject:identifier": f"{NHS}|{EXAMPLE_NHS_NUMBER}",
            "type": "http://snomed.info/sct|749001000000101",
            "custodian:identifier": f"https://fhir.nhs.uk/Id/ods-organization-code|{CUSTODIAN}",
        },
        headers={"X-Request-Id": "11111111-1111-4111-8111-111111111111", "X-Correlation-Id": "c"},
    )
    bundle = await _json(search)
    named = [i for e in bundle["entry"] for i in e["resource"]["identifier"]]
    found = {i["value"] for i in named if i["system"] == BARS}
    assert found == set(ids)


async def test_process_message_booking_makes_a_pointer_its_cancel_deletes_it(
    gateway: Start, registry: RegistryPeer
) -> None:
    """BOOKREQ01 over $process-message makes a pointer for the examples' patient; BOOKREQ02
    (reason delete) removes it."""
    running = await gateway(registry.url)
    (slot,) = await running.bars.free_slots()
    status, answer, _ = await post(running.bars, example(NEW, slot))
    assert status == 200, answer
    booked = focus(answer)

    async def made() -> bool:
        return len(pointers_of(registry, booked["id"])) == 1

    await eventually(made)
    subject = _one(registry, booked["id"])["subject"]["identifier"]["value"]
    assert subject == "9476719931"
    status, answer, _ = await post(running.bars, example(CANCELLED, slot))
    assert status == 200, answer

    async def gone() -> bool:
        return not pointers_of(registry, booked["id"])

    await eventually(gone)


async def test_sends_bars_transaction_headers(gateway: Start, registry: RegistryPeer) -> None:
    """Every registry call carries X-Request-Id, X-Correlation-Id, the BaRS Accept and the
    writer's organisation; writes carry use-context; none carries NHSD-Target-Identifier."""
    running = await gateway(registry.url)
    (slot,) = await running.stu3.free_slots()
    booked = await _json(await running.stu3.book(booking_body(slot)))

    async def made() -> bool:
        return len(pointers_of(registry, booked["id"])) == 1

    await eventually(made)
    (sent,) = registry.state.seen_headers
    assert sent["X-Request-Id"] and sent["X-Correlation-Id"]
    assert sent["Accept"].startswith("application/fhir+json; version=1.")
    assert sent["use-context"] == "a1t1|booked|booking-request|new"
    assert "NHSD-End-User-Organisation" in sent and "NHSD-Target-Identifier" not in sent


async def test_pas_desk_booking_reschedule_and_cancel_follow_in_the_registry(
    pas_gateway: PasConsumer, pas: PasPeer, registry: RegistryPeer
) -> None:
    """An SIU S12 desk booking makes a pointer; S13 moves its period (same pointer, PUT);
    S15 deletes it."""
    offered = await pas_gateway.free_slots(10)
    first = offered[0]
    second = next(
        s for s in offered if s["schedule"] == first["schedule"] and s["start"] != first["start"]
    )
    schedule = "UTCNP" if "nurse" in first["schedule"]["reference"] else "UTCGP"
    desk = DeskPatient(
        "Okonkwo", "Ada", "F", date(1980, 1, 2), nhs_number=EXAMPLE_NHS_NUMBER, mrn="M9"
    )
    filler = await pas.book_locally(schedule, datetime.fromisoformat(first["start"]), desk)
    assert pas.desk.acks[-1].code == "AA"

    async def one() -> bool:
        return len(registry.pointers()) == 1

    await eventually(one)
    (made,) = registry.pointers()
    assert datetime.fromisoformat(made["context"]["period"]["start"]) == datetime.fromisoformat(
        first["start"]
    )
    await pas.move_locally(filler, datetime.fromisoformat(second["start"]))

    async def moved() -> bool:
        held = registry.pointers()
        start = held[0]["context"]["period"]["start"] if len(held) == 1 else ""
        return bool(start) and datetime.fromisoformat(start) == datetime.fromisoformat(
            second["start"]
        )

    await eventually(moved)
    assert registry.pointers()[0]["id"] == made["id"], "a reschedule updates the same pointer"
    assert registry.state.stats["update"] == 1 and registry.state.stats["read"] == 1
    await pas.cancel_locally(filler)

    async def gone() -> bool:
        return not registry.pointers()

    await eventually(gone)
