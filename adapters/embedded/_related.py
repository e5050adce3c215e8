"""A slot search result: the slots plus every resource they lead to, each once."""

from __future__ import annotations

from collections.abc import Iterable

from adapters.domain import Slot, SlotSearchResult
from adapters.embedded._directory import Directory


def related(slots: Iterable[Slot], directory: Directory) -> SlotSearchResult:
    """Slots with their schedules, services, practitioners, roles, locations, organisations."""
    slots = tuple(slots)
    schedules = {
        s.schedule_id: directory.schedules[s.schedule_id]
        for s in slots
        if s.schedule_id in directory.schedules
    }
    services = {s.service_id: directory.services[s.service_id] for s in schedules.values()}
    practitioner_ids = {s.practitioner_id for s in schedules.values() if s.practitioner_id}
    role_ids = {s.practitioner_role_id for s in schedules.values() if s.practitioner_role_id}
    roles = {rid: directory.roles[rid] for rid in sorted(role_ids)}
    practitioner_ids |= {r.practitioner_id for r in roles.values() if r.practitioner_id}
    location_ids = {s.location_id for s in schedules.values() if s.location_id}
    location_ids |= {s.location_id for s in services.values() if s.location_id}
    locations = {lid: directory.locations[lid] for lid in sorted(location_ids)}
    organisation_ids = {s.organisation_id for s in services.values() if s.organisation_id}
    organisation_ids |= {r.organisation_id for r in roles.values() if r.organisation_id}
    organisation_ids |= {
        loc.managing_organisation_id for loc in locations.values() if loc.managing_organisation_id
    }
    return SlotSearchResult(
        slots=slots,
        schedules=schedules,
        services=services,
        practitioners={pid: directory.practitioners[pid] for pid in sorted(practitioner_ids)},
        roles=roles,
        locations=locations,
        organisations={oid: directory.organisations[oid] for oid in sorted(organisation_ids)},
    )
