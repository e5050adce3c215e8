"""An ``SQR^S25`` answer as a slot search result (HL7 v2.5 chapter 10.4).

Every code is mapped (schedule, location, filler status, appointment type,
staff type); a code with no row fails the search with ``MappingError``
rather than offering a slot nobody can describe. Practitioners and roles get
stable ids derived from the adapter name and the PAS's staff id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from adapters.domain import (
    HumanName,
    Location,
    Practitioner,
    PractitionerRole,
    Schedule,
    Slot,
    SlotSearchResult,
    SlotStatus,
)
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7v2._siu import slot_uuid
from adapters.hl7v2.mapping import Mappings, ScheduleMap, entity_id


@dataclass(frozen=True, slots=True)
class SlotRef:
    """What the adapter must send to book a slot it offered."""

    schedule: str
    record: sched.Booked


def search_result(
    adapter: str,
    records: Iterable[sched.Booked],
    mappings: Mappings,
    wanted: frozenset[SlotStatus],
) -> tuple[SlotSearchResult, dict[str, SlotRef]]:
    """The result and, per slot id, what booking it needs."""
    slots: list[Slot] = []
    refs: dict[str, SlotRef] = {}
    schedules: dict[str, Schedule] = {}
    practitioners: dict[str, Practitioner] = {}
    roles: dict[str, PractitionerRole] = {}
    locations: dict[str, Location] = {}
    for record in records:
        mapped = mappings.schedule(record.schedule)
        status = mappings.status(record.status).slot
        if status not in wanted:
            continue
        channel = mappings.channel(record.appointment_type) if record.appointment_type else None
        slot_id = slot_uuid(adapter, record.schedule, record.start)
        slots.append(
            Slot(
                id=slot_id,
                identifier=slot_id,
                schedule_id=mapped.schedule.id,
                status=status,
                start=record.start,
                end=record.end,
                delivery_channel=channel,
            )
        )
        refs[slot_id] = SlotRef(record.schedule, record)
        if mapped.schedule.id not in schedules:
            schedules[mapped.schedule.id] = _schedule(
                adapter, mapped, record, mappings, practitioners, roles, locations
            )
    slots.sort(key=lambda s: (s.start, s.schedule_id, s.id))
    services = {s.service_id: mappings.services[s.service_id] for s in schedules.values()}
    for service in services.values():
        if service.location_id:
            locations.setdefault(service.location_id, mappings.locations[service.location_id])
    organisations = {
        s.organisation_id: mappings.organisations[s.organisation_id]
        for s in services.values()
        if s.organisation_id
    }
    result = SlotSearchResult(
        slots=tuple(slots),
        schedules=schedules,
        services=services,
        practitioners=practitioners,
        roles=roles,
        locations=locations,
        organisations=organisations,
    )
    return result, refs


def _schedule(
    adapter: str,
    mapped: ScheduleMap,
    record: sched.Booked,
    mappings: Mappings,
    practitioners: dict[str, Practitioner],
    roles: dict[str, PractitionerRole],
    locations: dict[str, Location],
) -> Schedule:
    """The schedule as this answer describes it: its first AIP and its AIL location."""
    schedule = mapped.schedule
    location_id = schedule.location_id
    if record.location:
        location = mappings.location(record.location)
        locations[location.id] = location
        location_id = location_id or location.id
    elif location_id:
        locations[location_id] = mappings.locations[location_id]
    practitioner_id = role_id = None
    service = mappings.services[schedule.service_id]
    for staff in record.staff[:1]:
        practitioner_id = entity_id(adapter, "practitioner", staff.id)
        practitioners[practitioner_id] = Practitioner(
            id=practitioner_id,
            name=HumanName(
                family=staff.family or None,
                given=(staff.given,) if staff.given else (),
                prefix=(staff.prefix,) if staff.prefix else (),
                use="official",
            ),
        )
        if staff.staff_type:
            code, display = mappings.role(staff.staff_type)
            role_id = entity_id(adapter, "role", staff.id, staff.staff_type)
            roles[role_id] = PractitionerRole(
                id=role_id,
                practitioner_id=practitioner_id,
                organisation_id=service.organisation_id,
                role_code=code,
                role_display=display,
            )
    return schedule.model_copy(
        update={
            "practitioner_id": practitioner_id,
            "practitioner_role_id": role_id,
            "location_id": location_id,
        }
    )


def without_held(
    result: SlotSearchResult, held: set[str], wanted: frozenset[SlotStatus]
) -> SlotSearchResult:
    """``result`` with the free slots a known booking holds shown busy, or left out.

    A PAS may go on listing a slot as open after telling us (SIU^S12) that it
    is booked, e.g. when its slot list is kept apart from its appointments;
    what the gateway knows is booked is never offered as free (issue 8 item 4).
    """
    if not held:
        return result
    slots: list[Slot] = []
    for slot in result.slots:
        if slot.status is not SlotStatus.FREE or slot.id not in held:
            slots.append(slot)
        elif SlotStatus.BUSY in wanted:
            slots.append(slot.model_copy(update={"status": SlotStatus.BUSY}))
    return result.model_copy(update={"slots": tuple(slots)})
