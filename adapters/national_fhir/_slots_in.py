"""A provider's Slot search Bundle -> the canonical SlotSearchResult (search_slots.md).

Tolerant as sr_booking.md demands: requested ``_include`` resources may be
missing and unrequested ones present; a reference to a resource that did not
come back is dropped rather than left dangling; no delivery channel is ever
defaulted (fs_deliverychannel.md). Every schedule returned belongs to the
service searched for, so its ``service_id`` is the national id asked about.

A slot's canonical id is its identifier (CareConnect-Slot-1, system rfc4122),
or its logical id when it has none: the contained Slot of a booking carries the
identifier, so a booking read back names the same slot as the search did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import structlog

from adapters.domain import (
    DeliveryChannel,
    Gender,
    HealthcareService,
    HumanName,
    Identifier,
    Location,
    Organisation,
    Practitioner,
    PractitionerRole,
    Schedule,
    Slot,
    SlotQuery,
    SlotSearchResult,
    SlotStatus,
)
from adapters.national_fhir._fhir import (
    UUID_SYSTEM,
    Json,
    Unreadable,
    address,
    identifier_value,
    instant,
    items,
    obj,
    reference_id,
    text,
    texts,
)

log = structlog.get_logger(__name__)

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
_CHANNELS = {c.value.lower(): c for c in DeliveryChannel}


def delivery_channel(slot: Json) -> DeliveryChannel | None:
    """fs_deliverychannel.md: the channel when the provider says it, else None (never defaulted)."""
    for ext in items(slot.get("extension")):
        if "DeliveryChannel" in str(ext.get("url") or ""):
            code = text(ext.get("valueCode")) or ""
            channel = _CHANNELS.get(code.lower())
            if channel is None:
                log.warning("delivery_channel_unmapped", code=code[:32])
            return channel
    return None


def resources(bundle: Json) -> Iterable[Json]:
    if bundle.get("resourceType") != "Bundle":
        raise Unreadable("the answer is not a Bundle")
    return (obj(e.get("resource")) for e in items(bundle.get("entry")))


def next_link(bundle: Json) -> str | None:
    for link in items(bundle.get("link")):
        if link.get("relation") == "next":
            return text(link.get("url"))
    return None


class SlotReader:
    """Collects one search's pages, then builds the result."""

    def __init__(self, query: SlotQuery, service_name: str | None) -> None:
        self.query = query
        self.service_name = service_name
        self.slots: dict[str, Slot] = {}
        self.by_type: dict[str, dict[str, Json]] = {}

    def add_page(self, bundle: Json) -> None:
        for resource in resources(bundle):
            kind, rid = text(resource.get("resourceType")), text(resource.get("id"))
            if kind == "Slot":
                self._add_slot(resource)
            elif kind and rid:
                self.by_type.setdefault(kind, {}).setdefault(rid, resource)

    def _add_slot(self, resource: Json) -> None:
        try:
            found = _slot(resource)
        except (Unreadable, ValueError):
            log.warning("provider_slot_skipped", reason="unreadable slot")
            return
        q = self.query
        # A provider SHALL ignore criteria it does not support (implementation_api.md),
        # so the window and statuses are applied here too.
        if found.status not in q.statuses:
            return
        if (q.start_from and found.start < q.start_from) or (
            q.start_to and found.start > q.start_to
        ):
            return
        self.slots.setdefault(found.id, found)

    def result(self) -> SlotSearchResult:
        slots = sorted(self.slots.values(), key=lambda s: (s.start, s.id))
        service = self._service()
        services = {service.id: service} if service else {}
        schedules: dict[str, Schedule] = {}
        for schedule_id in dict.fromkeys(s.schedule_id for s in slots):
            schedules[schedule_id] = self._schedule(schedule_id)
        return SlotSearchResult(
            slots=tuple(slots),
            schedules=schedules,
            services=services,
            practitioners=self._collect("Practitioner"),
            roles=self._collect("PractitionerRole"),
            locations=self._collect("Location"),
            organisations=self._collect("Organization"),
        )

    def _schedule(self, schedule_id: str) -> Schedule:
        # A Schedule the provider did not return is known only by the slot's reference.
        data = self.by_type.get("Schedule", {}).get(schedule_id, {})
        actors = items(data.get("actor"))
        ident = items(data.get("identifier"))
        return Schedule(
            id=schedule_id,
            service_id=self.query.service_id,
            practitioner_id=self._present(actors, "Practitioner"),
            practitioner_role_id=self._present(actors, "PractitionerRole"),
            location_id=self._present(actors, "Location"),
            identifier=_identifier(ident[0]) if ident else None,
        )

    def _present(self, actors: list[Json], kind: str) -> str | None:
        """The id of the first ``kind`` actor that came back and can be read."""
        for actor in actors:
            rid = reference_id(actor, kind)
            if rid and self._readable(kind, rid):
                return rid
        return None

    def _readable(self, kind: str, rid: str) -> bool:
        builder = _BUILDERS[kind]
        data = self.by_type.get(kind, {}).get(rid)
        return data is not None and builder(data) is not None

    def _service(self) -> HealthcareService | None:
        sid = self.query.service_id
        for data in self.by_type.get("HealthcareService", {}).values():
            ids = {text(data.get("id"))} | {
                text(i.get("value")) for i in items(data.get("identifier"))
            }
            if sid in ids and text(data.get("name")):
                org = reference_id(data.get("providedBy"), "Organization")
                locs = [reference_id(r, "Location") for r in items(data.get("location"))]
                loc = next((x for x in locs if x and self._readable("Location", x)), None)
                return HealthcareService(
                    id=sid,
                    name=str(text(data.get("name"))),
                    organisation_id=org if org and self._readable("Organization", org) else None,
                    location_id=loc,
                    local_identifier=next(
                        (
                            i
                            for i in map(_identifier, items(data.get("identifier")))
                            if i and i.value != sid
                        ),
                        None,
                    ),
                )
        # Not returned: the directory table's name, when it has one (from DoS).
        return HealthcareService(id=sid, name=self.service_name) if self.service_name else None

    def _collect(self, kind: str) -> dict[str, Any]:
        builder = _BUILDERS[kind]
        found: dict[str, Any] = {}
        for rid, data in self.by_type.get(kind, {}).items():
            value = builder(data)
            if value is not None:
                found[rid] = value
        return found


def _identifier(data: Json) -> Identifier | None:
    system, value = text(data.get("system")), text(data.get("value"))
    return Identifier(system=system, value=value) if system and value else None


def _slot(data: Json) -> Slot:
    rid = text(data.get("id"))
    key = identifier_value(data, UUID_SYSTEM) or identifier_value(data) or rid
    schedule_id = reference_id(data.get("schedule"), "Schedule")
    if key is None or schedule_id is None:
        raise Unreadable("Slot without id or schedule")
    return Slot(
        id=key,
        schedule_id=schedule_id,
        identifier=key,
        status=SlotStatus(text(data.get("status")) or ""),
        start=instant(data.get("start"), "Slot.start"),
        end=instant(data.get("end"), "Slot.end"),
        delivery_channel=delivery_channel(data),
    )


def _name(data: Json) -> HumanName:
    # STU3 name is a list; the workflow page's example sends one object with lists.
    raw = data.get("name")
    names = items(raw) if isinstance(raw, list) else [obj(raw)]
    first = names[0] if names else {}
    return HumanName(
        family=" ".join(texts(first.get("family"))) or None,
        given=texts(first.get("given")),
        prefix=texts(first.get("prefix")),
        use=text(first.get("use")),
    )


def _practitioner(data: Json) -> Practitioner | None:
    gender = text(data.get("gender"))
    ids = tuple(i for i in (_identifier(x) for x in items(data.get("identifier"))) if i)
    return Practitioner(
        id=str(data["id"]),
        name=_name(data),
        gender=Gender(gender) if gender in set(Gender) else None,
        identifiers=ids,
    )


def _role(data: Json) -> PractitionerRole | None:
    codings = [c for code in items(data.get("code")) for c in items(code.get("coding"))]
    code = next((c for c in codings if text(c.get("code"))), None)
    if code is None:
        return None
    return PractitionerRole(
        id=str(data["id"]),
        practitioner_id=reference_id(data.get("practitioner"), "Practitioner"),
        organisation_id=reference_id(data.get("organization"), "Organization"),
        role_code=str(text(code.get("code"))),
        role_display=text(code.get("display")) or str(text(code.get("code"))),
    )


def _location(data: Json) -> Location | None:
    name = text(data.get("name"))
    if name is None:
        return None
    return Location(
        id=str(data["id"]),
        name=name,
        address=address(obj(data.get("address"))) if data.get("address") else None,
        managing_organisation_id=reference_id(data.get("managingOrganization"), "Organization"),
    )


def _organisation(data: Json) -> Organisation | None:
    name, ods = text(data.get("name")), identifier_value(data, ODS_SYSTEM)
    if name is None or ods is None:
        return None
    return Organisation(id=str(data["id"]), ods_code=ods, name=name)


_BUILDERS: dict[str, Callable[[Json], Any]] = {
    "Practitioner": _practitioner,
    "PractitionerRole": _role,
    "Location": _location,
    "Organization": _organisation,
}
