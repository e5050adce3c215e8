"""GET /metadata and GET /Slot over real HTTP (search_slots.md, capabilitystatement.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fhir.resources.STU3.bundle import Bundle
from fhir.resources.STU3.capabilitystatement import CapabilityStatement

from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer

ALL_INCLUDES = (
    "&_include:iterate=Schedule:actor:Practitioner"
    "&_include:iterate=Schedule:actor:PractitionerRole"
    "&_include:iterate=Schedule:actor:HealthcareService"
    "&_include:iterate=HealthcareService:Organization"
    "&_include:iterate=HealthcareService:Location"
)


async def test_metadata_is_a_valid_capability_statement_with_update(consumer: Consumer) -> None:
    """The CapabilityStatement validates as STU3 and declares create, read, vread and update."""
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/metadata", headers=consumer.headers(READ_SLOTS, "read:metadata")
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/fhir+json;charset=utf-8"
    body = await resp.json(content_type=None)
    CapabilityStatement.model_validate(body)
    appointment = next(r for r in body["rest"][0]["resource"] if r["type"] == "Appointment")
    codes = {i["code"] for i in appointment["interaction"]}
    assert {"create", "read", "vread", "update", "search-type"} <= codes
    slot = next(r for r in body["rest"][0]["resource"] if r["type"] == "Slot")
    assert "Slot:schedule" in slot["searchInclude"]


async def test_slot_search_returns_free_slots_with_every_include_once(consumer: Consumer) -> None:
    """A search with the full _include chain returns each related resource exactly once."""
    resp = await consumer.search(ALL_INCLUDES)
    assert resp.status == 200
    body = await resp.json(content_type=None)
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    kinds = [e["resource"]["resourceType"] for e in body["entry"]]
    # total counts every page's matches (Bundle.total); the page may hold fewer.
    assert 0 < kinds.count("Slot") <= body["total"]
    for kind in (
        "Schedule",
        "Practitioner",
        "PractitionerRole",
        "HealthcareService",
        "Organization",
        "Location",
    ):
        assert kind in kinds, kind
    urls = [e["fullUrl"] for e in body["entry"]]
    assert len(urls) == len(set(urls)), "included resources must not be duplicated"
    assert all(
        e["resource"]["status"] == "free"
        for e in body["entry"]
        if e["resource"]["resourceType"] == "Slot"
    )
    assert all(u.startswith(consumer.root + "/") for u in urls)


async def test_slot_search_without_includes_returns_only_slots(consumer: Consumer) -> None:
    """Related resources come only when asked for with _include."""
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=918999198999",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    body = await resp.json(content_type=None)
    assert {e["resource"]["resourceType"] for e in body["entry"]} == {"Slot"}


async def test_long_form_service_parameter_and_unknown_params(consumer: Consumer) -> None:
    """schedule.actor:healthcareservice works like service; unknown parameters are ignored."""
    headers = consumer.headers(READ_SLOTS, "read:slot")
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?schedule.actor:healthcareservice=918999198999&colour=blue&_count=5",
        headers=headers,
    )
    assert resp.status == 200
    assert (await resp.json(content_type=None))["total"] > 0


async def test_window_limits_slots_and_offsets_are_normalised(consumer: Consumer) -> None:
    """start=ge/le bounds (with a +01:00 offset) limit slots to the window, returned in UTC."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    lower = tomorrow.strftime("%Y-%m-%dT%H:%M:%S") + "%2B00:00"
    upper_dt = tomorrow + timedelta(hours=1)
    upper = (upper_dt + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + "%2B01:00"
    resp = await consumer.search(f"&start=ge{lower}&start=le{upper}")
    assert resp.status == 200
    body = await resp.json(content_type=None)
    starts = [
        datetime.fromisoformat(e["resource"]["start"])
        for e in body.get("entry", [])
        if e["resource"]["resourceType"] == "Slot"
    ]
    assert starts, "the demo diary has slots every day at noon"
    assert all(tomorrow <= s <= upper_dt for s in starts)
    assert all(s.utcoffset() == timedelta(0) for s in starts)


async def test_no_slots_in_window_is_an_empty_searchset(consumer: Consumer) -> None:
    """A window with no slots answers 200 with an empty searchset, not an error."""
    far = (datetime.now(UTC) + timedelta(days=300)).strftime("%Y-%m-%d")
    resp = await consumer.search(f"&start=ge{far}&start=le{far}")
    assert resp.status == 200
    body = await resp.json(content_type=None)
    assert body["total"] == 0 and "entry" not in body


async def test_status_comma_list(consumer: Consumer) -> None:
    """status=free,busy returns both free and busy slots; busy alone none of the free ones."""
    resp = await consumer.search("&status=busy")
    body = await resp.json(content_type=None)
    assert all(
        e["resource"]["status"] == "busy"
        for e in body.get("entry", [])
        if e["resource"]["resourceType"] == "Slot"
    )
    resp = await consumer.search("&status=free,busy")
    assert (await resp.json(content_type=None))["total"] > 0


async def test_unknown_service_is_404(consumer: Consumer) -> None:
    """A service id the gateway holds no schedules for answers 404 with an OperationOutcome."""
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=000000000",
        headers=consumer.headers(READ_SLOTS, "read:slot"),
    )
    assert resp.status == 404
    body = await resp.json(content_type=None)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["details"]["coding"][0]["code"] == "NO_RECORD_FOUND"


async def test_bad_parameters_are_400(consumer: Consumer) -> None:
    """Missing service, a bad status, a bad date or a window wholly in the past are 400."""
    past = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    for query in (
        "",
        "?service=918999198999&status=maybe",
        "?service=918999198999&start=geYesterday",
        f"?service=918999198999&start=ge{past}&start=le{past}",
    ):
        resp = await consumer.client.get(
            f"{SERVICE_ROOT_PATH}/Slot{query}", headers=consumer.headers(READ_SLOTS, "read:slot")
        )
        assert resp.status == 400, query
        body = await resp.json(content_type=None)
        assert body["issue"][0]["diagnostics"]


async def test_past_window_start_alone_is_fine(consumer: Consumer) -> None:
    """er_overview.md: a window starting in the past but ending in the future is accepted."""
    past = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    resp = await consumer.search(f"&start=ge{past}")
    assert resp.status == 200


def _at(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slots(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Slot"
    ]


async def _slots_for(consumer: Consumer, query: str) -> list[dict[str, Any]]:
    resp = await consumer.search(query)
    assert resp.status == 200, await resp.text()
    return _slots(await resp.json(content_type=None))


async def _anchor(consumer: Consumer) -> dict[str, Any]:
    """The first free slot starting at least an hour from now."""
    slots = await _slots_for(consumer, f"&start=ge{_at(datetime.now(UTC) + timedelta(hours=1))}")
    assert slots, "the demo diary has free slots in the coming days"
    return slots[0]


def _start(slot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(slot["start"])


async def test_gt_and_lt_leave_out_slots_on_the_bound(consumer: Consumer) -> None:
    """start=gtX and start=ltX never return a slot starting exactly at X; ge and le do."""
    anchor = await _anchor(consumer)
    at = _start(anchor)
    hour = timedelta(hours=1)
    inclusive = await _slots_for(consumer, f"&start=ge{_at(at)}&start=le{_at(at)}")
    assert anchor["id"] in {s["id"] for s in inclusive}
    after = await _slots_for(consumer, f"&start=gt{_at(at)}&start=le{_at(at + hour)}")
    assert all(_start(s) > at for s in after), [s["start"] for s in after]
    before = await _slots_for(consumer, f"&start=ge{_at(at - hour)}&start=lt{_at(at)}")
    assert all(_start(s) < at for s in before), [s["start"] for s in before]


async def test_end_parameter_bounds_when_slots_end(consumer: Consumer) -> None:
    """end=leX keeps only slots ending by X; end=gtX only those ending after X."""
    anchor = await _anchor(consumer)
    at, end = _start(anchor), datetime.fromisoformat(anchor["end"])
    ending_by = await _slots_for(consumer, f"&start=ge{_at(at)}&end=le{_at(end)}")
    assert anchor["id"] in {s["id"] for s in ending_by}
    assert all(datetime.fromisoformat(s["end"]) <= end for s in ending_by)
    later = await _slots_for(consumer, f"&start=ge{_at(at)}&start=le{_at(at)}&end=gt{_at(end)}")
    assert anchor["id"] not in {s["id"] for s in later}
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    resp = await consumer.search(f"&end=le{past}")
    assert resp.status == 400, "a window of ends wholly in the past is refused like start's"


async def test_capability_statement_declares_end_and_both_include_spellings(
    consumer: Consumer,
) -> None:
    """/metadata lists the end parameter and the dotted includes of uec_capability.md."""
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/metadata", headers=consumer.headers(READ_SLOTS, "read:metadata")
    )
    body = await resp.json(content_type=None)
    slot = next(r for r in body["rest"][0]["resource"] if r["type"] == "Slot")
    assert {"service", "status", "start", "end"} <= {p["name"] for p in slot["searchParam"]}
    assert {
        "HealthcareService:Location",
        "HealthcareService:Organization",
        "HealthcareService.location",
        "HealthcareService.providedBy",
    } <= set(slot["searchInclude"])


async def test_dotted_service_includes_return_location_and_organization(
    consumer: Consumer,
) -> None:
    """_include=HealthcareService.location / .providedBy (search_slots.md's spelling) work."""
    for query in (
        "&_include:iterate=HealthcareService.location&_include=HealthcareService.providedBy",
        "&_include=HealthcareService:location&_include:iterate=HealthcareService:providedBy",
    ):
        resp = await consumer.search(query)
        body = await resp.json(content_type=None)
        kinds = [e["resource"]["resourceType"] for e in body["entry"]]
        assert kinds.count("Location") >= 1 and kinds.count("Organization") >= 1, query
