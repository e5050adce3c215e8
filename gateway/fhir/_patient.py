"""The contained Patient of a booking -> the canonical Patient (CareConnect-Patient-1).

fs_fhir_overrides.md: identifier 0..1 (NHS number with its verification
extension 1..1), name, gender, birthDate and address 1..1, telecom.rank
required when telecom is populated, with exactly one rank 1 (fs_patientcontact.md);
the NHS number must pass its check digit (422 INVALID_NHS_NUMBER). Every other
breach is one code: 422 INVALID_RESOURCE.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from adapters.domain import Address, ContactPoint, Gender, HumanName, Patient
from adapters.nhs import NHS_NUMBER_SYSTEM, is_valid_nhs_number
from gateway.errors import ApiError, ErrorKind
from gateway.fhir.render import NHS_VERIFICATION_EXT

Json = dict[str, Any]


def violation(expression: str, message: str) -> ApiError:
    return ApiError(ErrorKind.PROFILE_VIOLATION, message, expression=expression)


def single(data: Json, key: str, expression: str) -> Json:
    items = data.get(key) or []
    if len(items) != 1:
        raise violation(expression, f"{expression} must occur exactly once (found {len(items)})")
    item: Json = items[0]
    return item


def _nhs_identifier(patient: Json) -> tuple[str | None, str | None]:
    identifiers = patient.get("identifier") or []
    if len(identifiers) > 1:
        raise violation("Patient.identifier", "Patient.identifier allows at most one identifier")
    if not identifiers:
        return None, None
    ident = identifiers[0]
    where = "Appointment.contained.Patient.identifier"
    if ident.get("system") != NHS_NUMBER_SYSTEM:
        raise violation(
            f"{where}.system", f"the patient identifier system must be {NHS_NUMBER_SYSTEM}"
        )
    value = str(ident.get("value") or "")
    if not is_valid_nhs_number(value):
        raise ApiError(
            ErrorKind.INVALID_NHS_NUMBER,
            "the NHS number is not ten digits with a valid check digit",
            expression=f"{where}.value",
        )
    verification = None
    for ext in ident.get("extension") or []:
        if ext.get("url") == NHS_VERIFICATION_EXT:
            codings = (ext.get("valueCodeableConcept") or {}).get("coding") or [{}]
            verification = codings[0].get("code")
    if verification is None:
        raise violation(
            f"{where}.extension", "the NHS number verification status extension is required"
        )
    return value, str(verification)


def _name(patient: Json) -> HumanName:
    name = single(patient, "name", "Appointment.contained.Patient.name")
    if not name.get("family") and not name.get("given") and not name.get("text"):
        raise violation(
            "Appointment.contained.Patient.name", "the patient name needs a family or given name"
        )
    return HumanName(
        family=name.get("family") or name.get("text"),
        given=tuple(name.get("given") or ()),
        prefix=tuple(name.get("prefix") or ()),
        use=name.get("use"),
    )


def _address(patient: Json) -> Address:
    addr = single(patient, "address", "Appointment.contained.Patient.address")
    return Address(
        lines=tuple(addr.get("line") or ()),
        city=addr.get("city"),
        district=addr.get("district"),
        postcode=addr.get("postalCode"),
        text=addr.get("text"),
        use=addr.get("use"),
    )


def _rank(item: Json, where: str) -> int:
    rank = item.get("rank")
    if rank is None:
        raise violation(where, "telecom.rank is required when telecom is populated")
    # Base STU3 (the structural layer, 400) has already checked it is a positiveInt.
    return int(rank)


def _telecom(patient: Json) -> tuple[ContactPoint, ...]:
    where = "Appointment.contained.Patient.telecom"
    points = [
        ContactPoint(
            system=item.get("system", "phone"),
            value=str(item.get("value", "")),
            use=item.get("use"),
            rank=_rank(item, f"{where}[{index}].rank"),
        )
        for index, item in enumerate(patient.get("telecom") or [])
    ]
    firsts = sum(1 for p in points if p.rank == 1)
    if points and firsts != 1:
        # fs_patientcontact.md: the primary contact "must always have a rank value of 1",
        # and rank 1 "must be unique"; other ranks may repeat.
        raise violation(
            f"{where}.rank",
            f"exactly one telecom must have rank 1 (the primary contact); found {firsts}",
        )
    return tuple(points)


def patient(patient: Json) -> Patient:
    nhs_number, verification = _nhs_identifier(patient)
    if patient.get("gender") not in {g.value for g in Gender}:
        raise violation(
            "Appointment.contained.Patient.gender",
            "Patient.gender is required: male, female, other or unknown",
        )
    if not patient.get("birthDate"):
        raise violation("Appointment.contained.Patient.birthDate", "Patient.birthDate is required")
    return Patient(
        nhs_number=nhs_number,
        nhs_number_verification=verification,
        name=_name(patient),
        gender=Gender(patient["gender"]),
        birth_date=date.fromisoformat(str(patient["birthDate"])),
        address=_address(patient),
        telecom=_telecom(patient),
    )
