"""Durability across restarts, and no patient data in the logs."""

from __future__ import annotations

import copy

from structlog.testing import capture_logs

from tests.api.conftest import NHS_NUMBER, Gateway, booking_body


async def test_versions_survive_a_restart(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Both versions of a cancelled appointment are readable after a restart."""
    first = await gateway(folder=tmp_path)
    (slot,) = await first.free_slots()
    booked = await (await first.book(booking_body(slot))).json(content_type=None)
    cancelled = copy.deepcopy(booked)
    cancelled["status"] = "cancelled"
    assert (await first.cancel(booked["id"], cancelled, **{"If-Match": 'W/"1"'})).status == 200
    await first.client.close()

    second = await gateway(folder=tmp_path)
    for version, status in ((1, "booked"), (2, "cancelled")):
        resp = await second.read(f"Appointment/{booked['id']}/_history/{version}")
        assert resp.status == 200
        assert (await resp.json(content_type=None))["status"] == status
    current = await (await second.read(f"Appointment/{booked['id']}")).json(content_type=None)
    assert current["meta"]["versionId"] == "2"


async def test_request_id_ledger_survives_a_restart(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A booking resent after a restart with the same X-Request-ID is still 409."""
    first = await gateway(folder=tmp_path)
    (slot,) = await first.free_slots()
    assert (
        await first.book(booking_body(slot), **{"X-Request-ID": "lost-response-1"})
    ).status == 201
    await first.client.close()
    second = await gateway(folder=tmp_path)
    again = await second.book(booking_body(slot), **{"X-Request-ID": "lost-response-1"})
    assert again.status == 409


async def test_no_patient_data_in_logs(consumer) -> None:  # type: ignore[no-untyped-def]
    """Booking, reading and patient search log ids only: no NHS number, name or DOB."""
    (slot,) = await consumer.free_slots()
    with capture_logs() as events:
        booked = await (await consumer.book(booking_body(slot))).json(content_type=None)
        await consumer.read(f"Appointment/{booked['id']}")
        await consumer.read(
            f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"
        )
        await consumer.book(booking_body(slot, nhs_number="9434765918"))
    text = repr(events)
    assert events, "the requests were logged"
    for secret in (NHS_NUMBER, "9434765918", "Chalmers", "1974-12-25", "LS1 4HR"):
        assert secret not in text


def test_redaction_processor_masks_nhs_numbers_and_names() -> None:
    """The backstop processor masks NHS numbers in any string and drops patient-ish keys."""
    from gateway.logs import redact_patient_data

    event = {
        "event": "x",
        "note": "patient 943 476 5919 called",
        "family": "Chalmers",
        "other": {"name": "Peter"},
        "n": "1234567890",
    }
    cleaned = redact_patient_data(None, "info", event)
    assert "943 476 5919" not in cleaned["note"] and "[nhs-number]" in cleaned["note"]
    assert cleaned["family"] == "[redacted]" and cleaned["other"] == {"name": "[redacted]"}
    assert cleaned["n"] == "1234567890", (
        "a ten-digit number failing the check digit is not an NHS number"
    )
