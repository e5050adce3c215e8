"""Domain values -> UK Core R4 resources (plain dicts), as BaRS serves them.

The STU3 renderings (``gateway.fhir.render``) already hold every element these
resources share with R4; here they become UK Core: the profile and extension
URLs change, every resource carries ``meta.lastUpdated`` (BaRS-FHIR-Usage), and
the few elements R4 renamed are renamed (``incomingReferral`` -> ``basedOn``,
DocumentReference ``indexed`` -> ``date``). Compare
examples/BOOKREQRESP01_-_Booking_Slot_Searchset_Response.xml.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from adapters.domain import Booking, SlotSearchResult
from gateway.fhir import bundle as stu3_bundle
from gateway.fhir import render as stu3
from gateway.fhir.referral_link import linked_id
from gateway.store import AppointmentVersion, ReferralVersion

Json = dict[str, Any]

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
DELIVERY_CHANNEL_EXT = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeliveryChannel"
)
NHS_VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
NHS_VERIFICATION_SYSTEM = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
_STU3_TYPE = re.compile(r"(^|/)ReferralRequest/")
_EXTENSIONS = {
    stu3.DELIVERY_CHANNEL_EXT: DELIVERY_CHANNEL_EXT,
    stu3.NHS_VERIFICATION_EXT: NHS_VERIFICATION_EXT,
}


def _extensions(items: list[Json]) -> list[Json]:
    out = []
    for ext in items:
        url = _EXTENSIONS.get(ext.get("url", ""), ext.get("url"))
        moved = {**ext, "url": url}
        if url == NHS_VERIFICATION_EXT:
            codings = moved["valueCodeableConcept"]["coding"]
            moved["valueCodeableConcept"] = {
                "coding": [{**c, "system": NHS_VERIFICATION_SYSTEM} for c in codings]
            }
        out.append(moved)
    return out


def uk_core(resource: Json, last_updated: str) -> Json:
    """An STU3 CareConnect rendering as its UK Core R4 counterpart."""
    out = dict(resource)
    kind = out["resourceType"]
    meta = {k: v for k, v in (out.get("meta") or {}).items() if k != "profile"}
    out["meta"] = {**meta, "lastUpdated": meta.get("lastUpdated", last_updated)}
    out["meta"]["profile"] = [UK_CORE + kind]
    if "extension" in out:
        out["extension"] = _extensions(out["extension"])
    if kind == "Patient":
        out["identifier"] = [
            {**i, "extension": _extensions(i["extension"])} if "extension" in i else i
            for i in out.get("identifier", [])
        ]
    if kind == "DocumentReference" and "indexed" in out:
        out["date"] = out.pop("indexed")
    return out


def _r4_entry(entry: Json, updated: str) -> Json:
    resource = uk_core(entry["resource"], updated)
    url = entry["fullUrl"]
    if resource["resourceType"] == "Slot":
        # A BaRS booking names its slot only as Slot/<id>, and adapters book by the slot's
        # UUID identifier: so the door serves each Slot under that UUID (spec-choices).
        resource["id"] = resource["identifier"][0]["value"]
        url = f"{url.rpartition('/Slot/')[0]}/Slot/{resource['id']}"
    return {**entry, "fullUrl": url, "resource": resource}


def _r4_bundle(bundle: Json, now: datetime) -> Json:
    updated = stu3.instant(now)
    out = dict(bundle)
    out["meta"] = {"lastUpdated": updated, "profile": [UK_CORE + "Bundle"]}
    out["timestamp"] = updated
    if "entry" in out:
        out["entry"] = [_r4_entry(e, updated) for e in out["entry"]]
    return out


def slot_bundle(
    result: SlotSearchResult,
    includes: tuple[str, ...],
    *,
    base: str,
    self_url: str,
    now: datetime,
    total: int,
    next_url: str | None,
) -> Json:
    """The searchset of one page of slots, UK Core (BOOKREQRESP01 example)."""
    bundle = stu3_bundle.slot_bundle(
        result, includes, base=base, self_url=self_url, now=now, total=total, next_url=next_url
    )
    return _r4_bundle(bundle, now)


def appointment_bundle(
    versions: list[AppointmentVersion],
    linked: Mapping[str, Sequence[ReferralVersion]],
    *,
    base: str,
    self_url: str,
    now: datetime,
) -> Json:
    """A searchset of appointments, each its current version naming its linked referral."""
    entries = [
        {
            "fullUrl": f"{base}/Appointment/{v.appointment_id}",
            "resource": appointment(v, linked.get(v.appointment_id, ())),
            "search": {"mode": "match"},
        }
        for v in versions
    ]
    bundle: Json = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": stu3.instant(now), "profile": [UK_CORE + "Bundle"]},
        "type": "searchset",
        "timestamp": stu3.instant(now),
        "total": len(entries),
        "link": [{"relation": "self", "url": self_url}],
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def r4_reference(reference: str) -> str:
    """A referral reference with R4's type name: ``ReferralRequest/x`` -> ``ServiceRequest/x``."""
    return _STU3_TYPE.sub(r"\1ServiceRequest/", reference, count=1)


def based_on(booking: Booking, linked: Sequence[ReferralVersion]) -> str | None:
    """What Appointment.basedOn names: ``ServiceRequest/<id>`` of the stored referral linked
    to the appointment (in either order), else the booking's own reference, R4-named."""
    found = linked_id(linked)
    if found:
        return f"ServiceRequest/{found}"
    return r4_reference(booking.referral_reference) if booking.referral_reference else None


def accepted_based_on(booking: Booking, linked: Sequence[ReferralVersion]) -> set[str]:
    """basedOn references a change may send back as "unchanged": any reading of the link."""
    own = booking.referral_reference
    return {r for r in (own, r4_reference(own) if own else None, based_on(booking, linked)) if r}


def as_held(data: Json, booking: Booking, linked: Sequence[ReferralVersion]) -> Json:
    """A sent Appointment whose basedOn names the link any accepted way, as we render it."""
    refs = data.get("basedOn")
    if not (isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], dict)):
        return data
    if refs[0].get("reference") not in accepted_based_on(booking, linked):
        return data
    return {**data, "basedOn": [{"reference": based_on(booking, linked)}]}


def appointment(version: AppointmentVersion, linked: Sequence[ReferralVersion] = ()) -> Json:
    """One stored version as a UK Core Appointment (the same version history as STU3),
    naming the stored referral linked to it (``linked``) as its basedOn."""
    booking: Booking = version.booking
    updated = stu3.instant(version.last_modified)
    base = stu3.appointment(
        booking,
        appointment_id=version.appointment_id,
        version=version.version,
        last_modified=version.last_modified,
    )
    contained = [
        uk_core(c, updated) for c in base.get("contained", []) if c["resourceType"] != "Slot"
    ]
    out: Json = {
        "resourceType": "Appointment",
        "id": version.appointment_id,
        "meta": {
            "versionId": str(version.version),
            "lastUpdated": updated,
            "profile": [UK_CORE + "Appointment"],
        },
        "contained": contained,
        "status": base["status"],
        "description": base["description"],
    }
    if "reason" in base:
        out["reasonCode"] = base["reason"]
    if reference := based_on(booking, linked):
        out["basedOn"] = [{"reference": reference}]
    if "supportingInformation" in base:
        out["supportingInformation"] = base["supportingInformation"]
    out.update(
        {
            "start": base["start"],
            "end": base["end"],
            # Appointment-StandardPattern/Initial-Booking: the slot by reference.
            "slot": [{"reference": f"Slot/{booking.slot.identifier}"}],
            "created": base["created"],
            "participant": base["participant"],
        }
    )
    return out
