"""The minimal app's FHIR: dicts shaped as the gateway renders them, ready for orjson.

Slot rows become Slot resources (``gateway/fhir/render.py``'s shape); the searchset
carries the same included resources in the same order as ``gateway/fhir/bundle.py``
(each schedule in the order its first slot appears, then its practitioner, role and
service; then each service's organisation and location). Those included resources
are static directory data, taken once from a captured gateway answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
Row = tuple[Any, ...]

CC = "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-"
UUID_SYSTEM = "https://tools.ietf.org/html/rfc4122"
DELIVERY_CHANNEL_EXT = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-NHS-DeliveryChannel-2"
)
#: Which references of a Schedule are followed, in the gateway's order.
SCHEDULE_ACTORS = ("Practitioner", "PractitionerRole", "HealthcareService")


def instant(text: str) -> str:
    """A stored instant as FHIR writes it: milliseconds, zero offset."""
    return datetime.fromisoformat(text).astimezone(UTC).isoformat(timespec="milliseconds")


def now_instant() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def slot_resource(row: Row, contained_id: str | None = None) -> Json:
    """A slot row (id, identifier, schedule, start, end, status, channel) as a Slot."""
    slot: Json = {"resourceType": "Slot", "id": contained_id or row[0]}
    if contained_id is None:
        slot["meta"] = {"profile": [CC + "Slot-1"]}
    if row[6]:
        slot["extension"] = [{"url": DELIVERY_CHANNEL_EXT, "valueCode": row[6]}]
    slot["identifier"] = [{"system": UUID_SYSTEM, "value": row[1]}]
    slot["schedule"] = {"reference": f"Schedule/{row[2]}"}
    slot["status"] = row[5]
    slot["start"] = instant(row[3])
    slot["end"] = instant(row[4])
    return slot


def _ref(reference: Any) -> tuple[str, str] | None:
    kind, _, key = str((reference or {}).get("reference", "")).partition("/")
    return (kind, key) if key else None


@dataclass
class Directory:
    """The included resources by (type, id), and the schedules of the one service."""

    base: str
    resources: dict[tuple[str, str], Json]
    schedule_ids: tuple[str, ...]

    @classmethod
    def from_bundle(cls, bundle: Json, base: str, service_id: str) -> Directory:
        resources = {
            (e["resource"]["resourceType"], e["resource"]["id"]): e["resource"]
            for e in bundle.get("entry") or []
            if e.get("search", {}).get("mode") == "include"
        }
        service_ref = {"reference": f"HealthcareService/{service_id}"}
        schedules = tuple(
            key
            for (kind, key), res in resources.items()
            if kind == "Schedule" and service_ref in res.get("actor", [])
        )
        return cls(base, resources, schedules)

    def included(self, schedule_ids: Iterable[str]) -> list[Json]:
        """The include entries for slots of these schedules (in first-slot order)."""
        found = _Found(self)
        ordered = [s for s in dict.fromkeys(schedule_ids) if ("Schedule", s) in self.resources]
        for schedule_id in ordered:
            schedule = found.add(("Schedule", schedule_id))
            actors = [_ref(a) for a in schedule.get("actor", [])] if schedule else []
            for kind in SCHEDULE_ACTORS:
                for actor in actors:
                    if actor is not None and actor[0] == kind:
                        found.add(actor)
        for schedule_id in ordered:
            for actor in self.resources[("Schedule", schedule_id)].get("actor", []):
                service = self.resources.get(_ref(actor) or ("", ""))
                if service is None or service["resourceType"] != "HealthcareService":
                    continue
                found.add(_ref(service.get("providedBy")))
                for location in service.get("location", []):
                    found.add(_ref(location))
        return found.entries


@dataclass
class _Found:
    directory: Directory
    entries: list[Json] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, key: tuple[str, str] | None) -> Json | None:
        resource = self.directory.resources.get(key) if key else None
        if key is None or resource is None or key in self.seen:
            return resource
        self.seen.add(key)
        self.entries.append(entry(self.directory.base, resource, "include"))
        return resource


def entry(base: str, resource: Json, mode: str) -> Json:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def searchset(directory: Directory, self_url: str, rows: Sequence[Row]) -> Json:
    """The searchset of these slot rows with their included resources."""
    entries = [entry(directory.base, slot_resource(r), "match") for r in rows]
    bundle: Json = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_instant()},
        "type": "searchset",
        "total": len(rows),
        "link": [{"relation": "self", "url": self_url}],
    }
    if entries:
        bundle["entry"] = entries + directory.included(r[2] for r in rows)
    return bundle


@dataclass(frozen=True)
class Stored:
    """A booking as stored: what its Appointment is rendered from."""

    supplier_ref: str
    status: str
    start: str
    end: str
    description: str
    patient: Json
    document: Json | None
    created: str


def appointment(booking: Stored, slot: Row, version: int, updated: str) -> Json:
    """The booking as an Appointment with its document, patient and slot contained."""
    contained: list[Json] = []
    if booking.document is not None:
        contained.append({**booking.document, "id": "doc1"})
    contained.append({**booking.patient, "id": "P1"})
    contained.append(slot_resource(slot, contained_id="slot1"))
    resource: Json = {
        "resourceType": "Appointment",
        "id": booking.supplier_ref,
        "meta": {
            "versionId": str(version),
            "lastUpdated": instant(updated),
            "profile": [CC + "Appointment-1"],
        },
        "contained": contained,
        "status": booking.status,
        "description": booking.description,
    }
    if booking.document is not None:
        resource["supportingInformation"] = [{"reference": "#doc1"}]
    resource.update(
        {
            "start": instant(booking.start),
            "end": instant(booking.end),
            "slot": [{"reference": "#slot1"}],
            "created": instant(booking.created),
            "participant": [{"actor": {"reference": "#P1"}, "status": "accepted"}],
        }
    )
    return resource


def contained(body: Json, kind: str) -> Json | None:
    """The first contained resource of this type in a request body."""
    for resource in body.get("contained") or []:
        if isinstance(resource, dict) and resource.get("resourceType") == kind:
            return resource
    return None
