"""A receiver's Slot searchset (GET /Slot with its _includes) -> ``SlotSearchResult``.

Core-Functionality-Requirements/Booking-Sender and the api spec (GET /Slot): the
searchset holds the Slots (``search.mode`` match) and what they lead to (include):
Schedules, whose actors name the HealthcareService, Practitioner, PractitionerRole
and Location; the HealthcareService names its Organization (providedBy). Everything
is keyed for the gateway as the national service id it asked for: the receiver's
own HealthcareService id is its business.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.bars._resources_in import Json, Unreadable, dicts, instant, ref_id, text
from adapters.domain import (
    DeliveryChannel,
    HealthcareService,
    HumanName,
    Identifier,
    Location,
    Organisation,
    Practitioner,
    PractitionerRole,
    Schedule,
    Slot,
    SlotSearchResult,
    SlotStatus,
)

DELIVERY_CHANNEL = "Extension-UKCore-DeliveryChannel"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def _by_type(bundle: Json) -> dict[str, dict[str, Json]]:
    if bundle.get("resourceType") != "Bundle":
        raise Unreadable("the answer is not a Bundle")
    out: dict[str, dict[str, Json]] = {}
    for entry in dicts(bundle.get("entry")):
        resource = entry.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("id"), str):
            out.setdefault(str(resource.get("resourceType")), {})[resource["id"]] = resource
    return out


def _channel(data: Json) -> DeliveryChannel | None:
    for ext in dicts(data.get("extension")):
        if str(ext.get("url", "")).endswith(DELIVERY_CHANNEL):
            try:
                return DeliveryChannel(str(ext.get("valueCode")))
            except ValueError:
                return None
    return None


def _slot(data: Json) -> Slot:
    identifier = next(
        (i["value"] for i in dicts(data.get("identifier")) if isinstance(i.get("value"), str)),
        data["id"],
    )
    schedule = ref_id(data.get("schedule"), "Schedule")
    if schedule is None:
        raise Unreadable("Slot.schedule is missing")
    try:
        status = SlotStatus(text(data, "status", "Slot"))
    except ValueError:
        raise Unreadable("Slot.status is not a slot status") from None
    return Slot(
        id=data["id"],
        schedule_id=schedule,
        identifier=identifier,
        status=status,
        start=instant(data, "start", "Slot"),
        end=instant(data, "end", "Slot"),
        delivery_channel=_channel(data),
    )


def _actors(schedule: Json, kind: str) -> list[str]:
    return [a for a in (ref_id(r, kind) for r in dicts(schedule.get("actor"))) if a]


def _first(ids: Iterable[str], known: dict[str, Any]) -> str | None:
    return next((i for i in ids if i in known), None)


def _practitioner(data: Json) -> Practitioner | None:
    names = dicts(data.get("name"))
    name = names[0] if names else {}
    idents = tuple(
        Identifier(system=i["system"], value=i["value"])
        for i in dicts(data.get("identifier"))
        if isinstance(i.get("system"), str) and isinstance(i.get("value"), str)
    )
    return Practitioner(
        id=data["id"],
        name=HumanName(
            family=name.get("family") if isinstance(name.get("family"), str) else None,
            given=tuple(g for g in name.get("given") or () if isinstance(g, str)),
            prefix=tuple(p for p in name.get("prefix") or () if isinstance(p, str)),
        ),
        identifiers=idents,
    )


def _role(data: Json) -> PractitionerRole | None:
    codings = [c for code in dicts(data.get("code")) for c in dicts(code.get("coding"))]
    coding = codings[0] if codings else {}
    return PractitionerRole(
        id=data["id"],
        practitioner_id=ref_id(data.get("practitioner"), "Practitioner"),
        organisation_id=ref_id(data.get("organization"), "Organization"),
        role_code=str(coding.get("code") or "UNK"),
        role_display=str(coding.get("display") or coding.get("code") or "unknown"),
    )


def _organisation(data: Json) -> Organisation:
    ods = next(
        (i["value"] for i in dicts(data.get("identifier")) if i.get("system") == ODS),
        data["id"],
    )
    return Organisation(id=data["id"], ods_code=str(ods), name=str(data.get("name") or ods))


def _location(data: Json) -> Location:
    return Location(
        id=data["id"],
        name=str(data.get("name") or data["id"]),
        managing_organisation_id=ref_id(data.get("managingOrganization"), "Organization"),
    )


def slot_result(bundle: Json, *, service_id: str, service_name: str | None) -> SlotSearchResult:
    """The searchset as canonical values; the target's service is ``service_id``."""
    found = _by_type(bundle)
    slots = sorted((_slot(s) for s in found.get("Slot", {}).values()), key=lambda s: s.start)
    practitioners = {
        k: p for k, v in found.get("Practitioner", {}).items() if (p := _practitioner(v))
    }
    roles = {k: r for k, v in found.get("PractitionerRole", {}).items() if (r := _role(v))}
    locations = {k: _location(v) for k, v in found.get("Location", {}).items()}
    organisations = {k: _organisation(v) for k, v in found.get("Organization", {}).items()}
    receiver_services = found.get("HealthcareService", {})
    schedules: dict[str, Schedule] = {}
    named: Json | None = None
    for key, data in found.get("Schedule", {}).items():
        offered = _actors(data, "HealthcareService")
        named = named or next(
            (receiver_services[s] for s in offered if s in receiver_services), None
        )
        schedules[key] = Schedule(
            id=key,
            service_id=service_id,
            practitioner_id=_first(_actors(data, "Practitioner"), practitioners),
            practitioner_role_id=_first(_actors(data, "PractitionerRole"), roles),
            location_id=_first(_actors(data, "Location"), locations),
        )
    service = HealthcareService(
        id=service_id,
        name=str((named or {}).get("name") or service_name or service_id),
        organisation_id=ref_id((named or {}).get("providedBy"), "Organization")
        if named and ref_id(named.get("providedBy"), "Organization") in organisations
        else None,
        location_id=_first(
            (x for x in (ref_id(r, "Location") for r in dicts((named or {}).get("location"))) if x),
            locations,
        ),
    )
    return SlotSearchResult(
        slots=tuple(slots),
        schedules=schedules,
        services={service_id: service},
        practitioners=practitioners,
        roles=roles,
        locations=locations,
        organisations=organisations,
    )


def next_link(bundle: Json) -> str | None:
    for link in dicts(bundle.get("link")):
        if link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None
