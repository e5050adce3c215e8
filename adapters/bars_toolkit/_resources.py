"""UK Core R4 resources from canonical values: the Patient and the Organizations of a message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from adapters.domain import Address, Patient

Json = dict[str, Any]
UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
VERIFICATION = UK_CORE.replace("UKCore-", "Extension-UKCore-") + "NHSNumberVerificationStatus"
VERIFICATION_CODES = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"


def instant(when: datetime) -> str:
    """An R4 instant in UTC with milliseconds (LastUpdatedDate: every resource has one)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def meta(now: datetime, profile: str | None = None) -> Json:
    out: Json = {"lastUpdated": instant(now)}
    if profile:
        out["profile"] = [profile]
    return out


def _address(address: Address) -> Json:
    out: Json = {}
    for key, value in (
        ("use", address.use),
        ("text", address.text),
        ("city", address.city),
        ("district", address.district),
        ("postalCode", address.postcode),
    ):
        if value:
            out[key] = value
    if address.lines:
        out["line"] = list(address.lines)
    return out


def _identifiers(patient: Patient) -> list[Json]:
    out: list[Json] = []
    if patient.nhs_number:
        ident: Json = {"system": NHS_NUMBER, "value": patient.nhs_number}
        if patient.nhs_number_verification:
            coding = {"system": VERIFICATION_CODES, "code": patient.nhs_number_verification}
            ident["extension"] = [
                {"url": VERIFICATION, "valueCodeableConcept": {"coding": [coding]}}
            ]
        out.append(ident)
    if patient.local_identifier:
        local = patient.local_identifier
        out.append({"system": local.system, "value": local.value})
    return out


def patient(value: Patient, now: datetime, resource_id: str | None = None) -> Json:
    """A UK Core Patient (name, gender, birth date, address, telecom, identifiers)."""
    name: Json = {k: v for k, v in (("use", value.name.use), ("family", value.name.family)) if v}
    if value.name.given:
        name["given"] = list(value.name.given)
    if value.name.prefix:
        name["prefix"] = list(value.name.prefix)
    out: Json = {
        "resourceType": "Patient",
        "id": resource_id or str(uuid.uuid4()),
        "meta": meta(now, UK_CORE + "Patient"),
        "identifier": _identifiers(value),
        "name": [name],
        "gender": value.gender.value,
        "birthDate": value.birth_date.isoformat(),
        "address": [_address(value.address)],
    }
    if value.telecom:
        # UK Core as receivers check it: telecom.rank is required when telecom is sent; a
        # missing rank becomes the point's position (readers drop ranks that are exactly so).
        out["telecom"] = [
            {**{k: v for k, v in t.model_dump().items() if v is not None}, "rank": t.rank or i}
            for i, t in enumerate(value.telecom, start=1)
        ]
    if not out["identifier"]:
        del out["identifier"]
    return out


def organisation(ods_code: str, name: str | None, now: datetime) -> Json:
    out: Json = {
        "resourceType": "Organization",
        "id": str(uuid.uuid4()),
        "meta": meta(now, UK_CORE + "Organization"),
        "identifier": [{"system": ODS_SYSTEM, "value": ods_code}],
    }
    if name:
        out["name"] = name
    return out
