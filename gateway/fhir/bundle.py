"""Search-set Bundles: slots with their ``_include`` chain, and a patient's appointments.

search_slots.md: related resources are never duplicated; unsupported includes
are silently left out; no slots means an empty searchset.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from adapters.domain import Slot, SlotSearchResult
from gateway.fhir import render
from gateway.fhir.render import Json
from gateway.store import AppointmentVersion

#: Include names this gateway understands (search_slots.md), lower-cased.
SLOT_SCHEDULE = "slot:schedule"
SCHEDULE_PRACTITIONER = "schedule:actor:practitioner"
SCHEDULE_ROLE = "schedule:actor:practitionerrole"
SCHEDULE_SERVICE = "schedule:actor:healthcareservice"
SCHEDULE_LOCATION = "schedule:actor:location"
SERVICE_ORGANISATION = "healthcareservice:organization"
SERVICE_LOCATION = "healthcareservice:location"
KNOWN_INCLUDES = frozenset(
    {
        SLOT_SCHEDULE,
        SCHEDULE_PRACTITIONER,
        SCHEDULE_ROLE,
        SCHEDULE_SERVICE,
        SCHEDULE_LOCATION,
        SERVICE_ORGANISATION,
        SERVICE_LOCATION,
    }
)
#: Other spellings of the same includes: search_slots.md's own example and the
#: capability statement of uec_capability.md write ``HealthcareService.location``,
#: ``HealthcareService.providedBy`` and ``Slot.schedule`` (the element path, dotted).
_ALIASES = {"healthcareservice:providedby": SERVICE_ORGANISATION}


def include_key(name: str) -> str:
    """The include ``name`` as one of ``KNOWN_INCLUDES`` (or unknown), whichever spelling."""
    key = name.strip().lower()
    if ":" not in key:
        key = key.replace(".", ":", 1)
    return _ALIASES.get(key, key)


def _entry(base: str, resource: Json, mode: str) -> Json:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _searchset(
    bundle_id: str | None,
    self_url: str,
    total: int,
    entries: list[Json],
    now: datetime,
    next_url: str | None = None,
) -> Json:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        # STU3 http.html#paging: the next page's URL in a link with relation "next".
        links.append({"relation": "next", "url": next_url})
    bundle: Json = {
        "resourceType": "Bundle",
        "id": bundle_id or str(uuid.uuid4()),
        "meta": {"lastUpdated": render.instant(now)},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def searchset(self_url: str, entries: list[Json], now: datetime) -> Json:
    """A searchset of ``entries`` with no paging (every match on one page)."""
    return _searchset(None, self_url, len(entries), entries, now)


class _Includer:
    """Collects included resources once each, in a stable order."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.entries: list[Json] = []
        self._seen: set[tuple[str, str]] = set()

    def add(
        self, kind: str, key: str | None, lookup: dict[str, Any], to_json: Callable[[Any], Json]
    ) -> None:
        if not key or (kind, key) in self._seen or key not in lookup:
            return
        self._seen.add((kind, key))
        self.entries.append(_entry(self.base, to_json(lookup[key]), "include"))


#: Rendered match entries by (base, slot): a slot unchanged since the last search
#: is not rendered again (issue 14). Cleared when full, never trimmed piecemeal,
#: so a render on a worker thread and one on the loop can share it safely.
_SLOT_ENTRIES: dict[tuple[str, Slot], Json] = {}
_SLOT_ENTRIES_MAX = 20_000


def _slot_entry(base: str, slot: Slot) -> Json:
    key = (base, slot)
    found = _SLOT_ENTRIES.get(key)
    if found is None:
        if len(_SLOT_ENTRIES) >= _SLOT_ENTRIES_MAX:
            _SLOT_ENTRIES.clear()
        found = _SLOT_ENTRIES[key] = _entry(base, render.slot(slot), "match")
    return found


def slot_entries(result: SlotSearchResult, includes: Iterable[str], base: str) -> list[Json]:
    """The entries of one page of slots: each slot, then its ``_include`` chain once each.

    The entry dicts of slots may be shared with other responses: never change them.
    """
    wanted = {include_key(i) for i in includes}
    entries = [_slot_entry(base, s) for s in result.slots]
    inc = _Includer(base)
    # Each schedule once, in the order its first slot appears.
    schedule_ids = dict.fromkeys(s.schedule_id for s in result.slots)
    schedules = [result.schedules[i] for i in schedule_ids if i in result.schedules]
    for sched in schedules:
        if SLOT_SCHEDULE in wanted:
            inc.add("Schedule", sched.id, result.schedules, render.schedule)
        if SCHEDULE_PRACTITIONER in wanted:
            inc.add(
                "Practitioner", sched.practitioner_id, result.practitioners, render.practitioner
            )
        if SCHEDULE_ROLE in wanted:
            inc.add(
                "PractitionerRole",
                sched.practitioner_role_id,
                result.roles,
                render.practitioner_role,
            )
        if SCHEDULE_LOCATION in wanted:
            inc.add("Location", sched.location_id, result.locations, render.location)
        if SCHEDULE_SERVICE in wanted:
            inc.add(
                "HealthcareService", sched.service_id, result.services, render.healthcare_service
            )
    for sched in schedules:
        service = result.services.get(sched.service_id)
        if service is None:
            continue
        if SERVICE_ORGANISATION in wanted:
            inc.add(
                "Organization", service.organisation_id, result.organisations, render.organisation
            )
        if SERVICE_LOCATION in wanted:
            inc.add("Location", service.location_id, result.locations, render.location)
    return entries + inc.entries


def slot_head(self_url: str, total: int, now: datetime, next_url: str | None = None) -> Json:
    """A slot searchset without its entries (``slot_pages`` adds them as bytes)."""
    return _searchset(None, self_url, total, [], now, next_url)


def slot_bundle(
    result: SlotSearchResult,
    includes: Iterable[str],
    *,
    base: str,
    self_url: str,
    now: datetime,
    total: int | None = None,
    next_url: str | None = None,
) -> Json:
    """The searchset for one page of slots; ``total`` counts every page's matches."""
    entries = slot_entries(result, includes, base)
    count = len(result.slots) if total is None else total
    return _searchset(None, self_url, count, entries, now, next_url)


def appointment_bundle(
    versions: Sequence[AppointmentVersion], *, base: str, self_url: str, now: datetime
) -> Json:
    entries = []
    for v in versions:
        resource = render.appointment(
            v.booking,
            appointment_id=v.appointment_id,
            version=v.version,
            last_modified=v.last_modified,
        )
        entries.append(
            {
                # search_patient_appointments.md: the version-specific URL of the current version.
                "fullUrl": f"{base}/Appointment/{v.appointment_id}/_history/{v.version}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    return _searchset(None, self_url, len(entries), entries, now)
