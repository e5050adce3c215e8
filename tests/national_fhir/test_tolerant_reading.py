"""Tolerant reading (sr_booking.md, fs_times.md): the standard's own sample answers,
missing and unrequested includes, optional elements absent, non-UTC offsets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from adapters.domain import BookingStatus, SlotQuery, SlotStatus
from adapters.national_fhir._appointment_in import booking
from tests.contract.builders import call_context
from tests.national_fhir.conftest import SERVICE_ID, Rig

WORKFLOW_BUNDLE: dict[str, Any] = {  # fs_workflow.md "Get Slots" example, trimmed
    "resourceType": "Bundle",
    "type": "searchset",
    "entry": [
        {
            "resource": {
                "resourceType": "Schedule",
                "id": "14",
                "actor": [{"reference": "Location/17"}, {"reference": "Practitioner/2"}],
            }
        },
        {
            "resource": {
                "resourceType": "Practitioner",
                "id": "2",
                "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "S001"}],
                "name": {"family": ["Black"], "given": ["Sarah"], "prefix": ["Mrs"]},
                "gender": "female",
            }
        },
        {
            "resource": {
                "resourceType": "Slot",
                "id": "1644",
                "schedule": {"reference": "Schedule/14"},
                "status": "free",
                "start": "2016-08-15T12:00:00.000+01:00",
                "end": "2016-08-15T12:29:59.000+01:00",
            }
        },
        {
            "resource": {
                "resourceType": "Slot",
                "id": "1584",
                "schedule": {"reference": "Schedule/14"},
                "status": "free",
                "start": "2016-08-15T11:30:00.000+01:00",
                "end": "2016-08-15T11:59:59.000+01:00",
            }
        },
    ],
}

SEARCH_SLOTS_BUNDLE: dict[str, Any] = {  # search_slots.md sample response, trimmed
    "resourceType": "Bundle",
    "type": "searchset",
    "entry": [
        {
            "fullUrl": "http://p/poc/Slot/slot005",
            "resource": {
                "resourceType": "Slot",
                "id": "slot005",
                "identifier": [
                    {
                        "system": "https://tools.ietf.org/html/rfc4122",
                        "value": "5a889965-3db4-4c29-8003-676c247a763e",
                    }
                ],
                "schedule": {"reference": "Schedule/sched1111"},
                "status": "free",
                "start": "2019-05-09T10:00:00.000+00:00",
                "end": "2019-05-09T10:15:00.000+00:00",
            },
        },
        {
            "resource": {
                "resourceType": "Schedule",
                "id": "sched1111",
                "actor": [
                    {"reference": f"HealthcareService/{SERVICE_ID}"},
                    {"reference": "Practitioner/ABCD123456"},
                ],
            }
        },
        {
            "resource": {
                "resourceType": "HealthcareService",
                "id": SERVICE_ID,
                "location": [{"reference": "Location/loc2222"}],
                "name": "Service One",
            }
        },
        {
            "resource": {
                "resourceType": "PractitionerRole",
                "id": "R0260",
                "code": [
                    {"coding": [{"code": "R0260", "display": "General Medical Practitioner"}]}
                ],
            }
        },
        {"resource": {"resourceType": "Location", "id": "loc1111", "name": "Location One"}},
    ],
}


async def _search_answered_with(rig: Rig, bundle: dict[str, Any]) -> Any:
    rig.ssp.inject(method="GET", path=r"/Slot\?", status=200, body=json.dumps(bundle).encode())
    return await rig.adapter.search_slots(SlotQuery(service_id=SERVICE_ID), call_context())


async def test_workflow_example_with_offsets_and_missing_includes(rig: Rig) -> None:
    """fs_workflow.md's Bundle: +01:00 times become UTC, sorted; an absent Location is dropped."""
    result = await _search_answered_with(rig, WORKFLOW_BUNDLE)
    assert [s.id for s in result.slots] == ["1584", "1644"]
    assert result.slots[0].start == datetime(2016, 8, 15, 10, 30, tzinfo=UTC)
    assert all(s.delivery_channel is None for s in result.slots), "never defaulted"
    schedule = result.schedules["14"]
    assert schedule.service_id == SERVICE_ID
    assert schedule.practitioner_id == "2" and schedule.location_id is None
    assert result.practitioners["2"].name.family == "Black"
    # No HealthcareService came back: the directory table's name stands in.
    assert result.services[SERVICE_ID].name == "Demo urgent treatment centre"


async def test_search_slots_sample_with_unrequested_and_dangling_resources(rig: Rig) -> None:
    """search_slots.md's sample: slot id is its UUID identifier; extra resources are harmless."""
    result = await _search_answered_with(rig, SEARCH_SLOTS_BUNDLE)
    (slot,) = result.slots
    assert slot.id == slot.identifier == "5a889965-3db4-4c29-8003-676c247a763e"
    assert result.services[SERVICE_ID].name == "Service One"
    assert result.services[SERVICE_ID].location_id is None  # loc2222 never came back
    assert result.schedules["sched1111"].practitioner_id is None  # nor did the Practitioner
    assert "R0260" in result.roles and "loc1111" in result.locations


async def test_unreadable_slots_are_skipped_not_fatal(rig: Rig) -> None:
    """A Slot without times or with an unknown status is skipped; the rest still come back."""
    bundle = json.loads(json.dumps(WORKFLOW_BUNDLE))
    bundle["entry"][2]["resource"].pop("start")
    bundle["entry"].append({"resource": {**bundle["entry"][3]["resource"], "status": "odd"}})
    result = await _search_answered_with(rig, bundle)
    assert [s.id for s in result.slots] == ["1584"]


async def test_criteria_the_provider_ignored_are_applied_here(rig: Rig) -> None:
    """implementation_api.md: providers ignore criteria they lack; window and status still hold."""
    bundle = json.loads(json.dumps(WORKFLOW_BUNDLE))
    bundle["entry"][3]["resource"]["status"] = "busy"
    rig.ssp.inject(method="GET", path=r"/Slot\?", status=200, body=json.dumps(bundle).encode())
    query = SlotQuery(service_id=SERVICE_ID, start_to=datetime(2016, 8, 15, 10, 59, tzinfo=UTC))
    result = await rig.adapter.search_slots(query, call_context())
    assert result.slots == ()


def test_minimal_appointment_reads_with_defaults_only_where_safe() -> None:
    """An Appointment lacking optional elements still reads; offsets become UTC; no document."""
    data: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": "a1",
        "meta": {"lastUpdated": "2019-01-17T14:32:22+02:00"},
        "status": "booked",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [{"system": "https://provider.example/Id/local", "value": "L-9"}],
                "birthDate": "1970-01-01",
            },
            {
                "resourceType": "Slot",
                "id": "s",
                "schedule": {"reference": "https://p/Schedule/x"},
                "start": "2019-01-17T15:00:00.000+01:00",
                "end": "2019-01-17T15:10:00.000+01:00",
            },
        ],
        "slot": [{"reference": "#s"}],
        "participant": [{"actor": {"reference": "#pat"}}],
    }
    found = booking(data, supplier_ref="r", service_id="svc", read_at=datetime.now(UTC))
    assert found.status is BookingStatus.BOOKED and found.document is None
    assert found.start == datetime(2019, 1, 17, 14, 0, tzinfo=UTC)
    assert found.created == datetime(2019, 1, 17, 12, 32, 22, tzinfo=UTC)
    assert found.slot.schedule_id == "x" and found.slot.status is SlotStatus.BUSY
    assert found.patient.local_identifier is not None
    assert found.patient.local_identifier.value == "L-9" and found.patient.nhs_number is None
    assert found.description == ""
