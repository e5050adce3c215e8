"""The CapabilityStatement, generated from what the configured adapters can do.

capabilitystatement.md gives the base; an interaction or include appears only
when at least one routed adapter declares the capability behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from adapters.contract import Capability
from gateway.fhir.bundle import (
    SCHEDULE_LOCATION,
    SCHEDULE_PRACTITIONER,
    SCHEDULE_ROLE,
    SCHEDULE_SERVICE,
    SERVICE_LOCATION,
    SERVICE_ORGANISATION,
    SLOT_SCHEDULE,
)
from gateway.fhir.render import CC

SOFTWARE = "uec-gateway"

_INCLUDES: tuple[tuple[Capability, str, str], ...] = (
    (Capability.INCLUDE_SCHEDULE, SLOT_SCHEDULE, "Slot:schedule"),
    (Capability.INCLUDE_PRACTITIONER, SCHEDULE_PRACTITIONER, "Schedule:actor:Practitioner"),
    (Capability.INCLUDE_PRACTITIONER_ROLE, SCHEDULE_ROLE, "Schedule:actor:PractitionerRole"),
    (Capability.INCLUDE_SERVICE, SCHEDULE_SERVICE, "Schedule:actor:HealthcareService"),
    (Capability.INCLUDE_LOCATION, SCHEDULE_LOCATION, "Schedule:actor:Location"),
    (Capability.INCLUDE_ORGANISATION, SERVICE_ORGANISATION, "HealthcareService:Organization"),
    (Capability.INCLUDE_LOCATION, SERVICE_LOCATION, "HealthcareService:Location"),
    # uec_capability.md spells these as element paths; both spellings are accepted.
    (Capability.INCLUDE_SCHEDULE, SLOT_SCHEDULE, "Slot.schedule"),
    (Capability.INCLUDE_ORGANISATION, SERVICE_ORGANISATION, "HealthcareService.providedBy"),
    (Capability.INCLUDE_LOCATION, SERVICE_LOCATION, "HealthcareService.location"),
)

_PROFILES = (
    "Slot-1",
    "HealthcareService-1",
    "Schedule-1",
    "Appointment-1",
    "Patient-1",
    "DocumentReference-1",
    "Practitioner-1",
    "PractitionerRole-1",
    "Organization-1",
    "Location-1",
    "ReferralRequest-1",
)


def _slot_resource(caps: set[Capability], max_slots_per_page: int) -> dict[str, Any]:
    return {
        "type": "Slot",
        "profile": {"reference": CC + "Slot-1"},
        "interaction": [{"code": "search-type"}],
        "searchInclude": [name for cap, _, name in _INCLUDES if cap in caps],
        "searchParam": [
            {
                "name": "service",
                "type": "token",
                "documentation": "National (DoS) service id; also schedule.actor:healthcareservice",
            },
            {
                "name": "status",
                "type": "token",
                "documentation": "Comma list of slot statuses; free when absent",
            },
            {
                "name": "start",
                "type": "date",
                "documentation": "start=geX&start=leY: window in which slots start; "
                "gt/lt exclude the bound",
            },
            {
                # uec_capability.md declares end beside start.
                "name": "end",
                "type": "date",
                "documentation": "end=geX&end=leY: window in which slots end; "
                "gt/lt exclude the bound",
            },
            {
                # search_slots.md: paging MAY be implemented (STU3 http.html#paging).
                "name": "_count",
                "type": "number",
                "documentation": f"Slots per page, at most {max_slots_per_page} (also the "
                "default); Bundle.total counts all matches and link 'next' is the same "
                "search from the next page's first start (start=ge...)",
            },
        ],
    }


def _appointment_resource(caps: set[Capability]) -> dict[str, Any]:
    interactions = [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}]
    if Capability.BOOK in caps:
        interactions.append({"code": "create"})
    if Capability.CANCEL in caps:
        # cancel_an_appointment.md: cancel is a version-aware update (PUT with If-Match).
        interactions.append(
            {
                "code": "update",
                "documentation": "Cancel only: status -> cancelled, If-Match required",
            }
        )
    return {
        "type": "Appointment",
        "profile": {"reference": CC + "Appointment-1"},
        "interaction": interactions,
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalUpdate": False,
        "searchParam": [
            {
                "name": "patient:identifier",
                "type": "token",
                "documentation": "https://fhir.nhs.uk/Id/nhs-number|<NHS number>; "
                "current appointments, no paging",
            },
        ],
    }


def _referral_resource() -> dict[str, Any]:
    # Referrals are stored by the gateway for every service, whatever the adapters.
    return {
        "type": "ReferralRequest",
        "profile": {"reference": CC + "ReferralRequest-1"},
        "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": False,
        "searchParam": [
            {
                "name": "patient:identifier",
                "type": "token",
                "documentation": "https://fhir.nhs.uk/Id/nhs-number|<NHS number>; "
                "the patient's referrals at every service, cancelled ones included, no paging",
            },
        ],
    }


def capability_statement(
    capabilities: Iterable[frozenset[Capability]],
    *,
    service_root: str,
    version: str,
    now: datetime,
    max_slots_per_page: int = 200,
) -> dict[str, Any]:
    caps: set[Capability] = set()
    for item in capabilities:
        caps |= item
    resources = []
    if Capability.SEARCH_SLOTS in caps:
        resources.append(_slot_resource(caps, max_slots_per_page))
    resources.append(_appointment_resource(caps))
    resources.append(_referral_resource())
    return {
        "resourceType": "CapabilityStatement",
        "version": "2.0.1",
        "name": "UEC Appointment Booking gateway",
        "status": "active",
        "date": now.date().isoformat(),
        "publisher": "uec-gateway",
        "description": "Care Connect UEC Appointment API (NHS Booking API, FHIR STU3) "
        "served by uec-gateway",
        "kind": "instance",
        "software": {"name": SOFTWARE, "version": version},
        "implementation": {"description": "uec-gateway", "url": service_root},
        "fhirVersion": "3.0.1",
        "acceptUnknown": "both",
        "format": ["application/fhir+json", "application/fhir+xml"],
        "profile": [{"reference": CC + p} for p in _PROFILES],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "description": "JWT bearer token per fs_authentication.md; SSP headers",
                },
                "resource": resources,
            }
        ],
    }
