"""A slot search result: the slots plus every resource they lead to, each once;
and the results of recent searches, kept by the diary version they were read at."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable

from adapters.domain import Slot, SlotQuery, SlotSearchResult
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


class ResultCache:
    """Results of recent searches by (query, diary version), the most recent ``size``.

    Each result carries a token naming this adapter instance and the version
    (``SlotSearchResult.version``): a new instance (a reload, a restart) shares no
    token with an old one, so nothing rendered for an old directory is reused.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._instance = uuid.uuid4().hex[:12]
        self._results: OrderedDict[tuple[SlotQuery, int], SlotSearchResult] = OrderedDict()

    def get(self, query: SlotQuery, version: int) -> SlotSearchResult | None:
        found = self._results.get((query, version))
        if found is not None:
            self._results.move_to_end((query, version))
        return found

    def put(self, query: SlotQuery, version: int, result: SlotSearchResult) -> SlotSearchResult:
        """``result`` with its token, kept; results of older versions go first."""
        stamped = result.model_copy(update={"version": f"{self._instance}:{version}"})
        stale = [key for key in self._results if key[1] < version]
        for key in stale:
            del self._results[key]
        self._results[(query, version)] = stamped
        while len(self._results) > self._size:
            self._results.popitem(last=False)
        return stamped
