"""The patient as a PID segment and back (HL7 v2.5 chapter 3.4.2).

PID-3 identifiers are mapped through ``identifier_systems.csv`` (NHS number
and local MRN), PID-8 through ``genders.csv``; PID-32 (identity reliability)
carries the NHS number verification status as UK v2 interfaces do. Name
(table 0200), address (0190) and telecom (0201/0202) type codes are HL7 ->
FHIR standard pairs, kept here; an unknown one becomes "not supplied".
"""

from __future__ import annotations

from adapters import errors
from adapters.domain import Address, ContactPoint, HumanName, Identifier, Patient
from adapters.hl7_toolkit.er7 import Segment, comp, part, reps, segment
from adapters.hl7_toolkit.patients import PatientTables
from adapters.hl7_toolkit.values import format_date, parse_date

_NAME_USE = {"official": "L", "usual": "D", "nickname": "N", "maiden": "M", "anonymous": "S"}
_ADDRESS_USE = {"home": "H", "work": "B", "temp": "C", "old": "BA"}
_PHONE_USE = {"home": "PRN", "work": "WPN", "mobile": "PRN", "temp": "ORN"}
_NAME_USE_IN = {v: k for k, v in _NAME_USE.items()}
_ADDRESS_USE_IN = {v: k for k, v in _ADDRESS_USE.items()} | {"M": "home", "P": "home"}
_PHONE_USE_IN = {"PRN": "home", "WPN": "work", "ORN": "temp", "VHN": "temp"}


def to_pid(patient: Patient, mappings: PatientTables) -> Segment:
    """PID for ``patient``; ``MappingError`` if an identifier system or gender is unmapped."""
    identifiers = []
    if patient.nhs_number:
        nhs = mappings.nhs_number
        identifiers.append(comp(patient.nhs_number, None, None, nhs.authority, nhs.type_code))
    if patient.local_identifier:
        local = mappings.identifier_for_system(patient.local_identifier.system)
        identifiers.append(
            comp(patient.local_identifier.value, None, None, local.authority, local.type_code)
        )
    name = patient.name
    address = patient.address
    lines = list(address.lines)
    xad = comp(
        lines[0] if lines else None,
        ", ".join(lines[1:]) or None,
        address.city,
        address.district,
        address.postcode,
        None,
        _ADDRESS_USE.get(address.use or ""),
    )
    return segment(
        "PID",
        "1",
        None,
        reps(identifiers),
        None,
        comp(
            name.family,
            name.given[0] if name.given else None,
            " ".join(name.given[1:]) or None,
            None,
            " ".join(name.prefix) or None,
            None,
            _NAME_USE.get(name.use or ""),
        ),
        None,
        format_date(patient.birth_date),
        mappings.genders_out[patient.gender],
        None,
        None,
        xad,
        None,
        reps(_xtn(t) for t in patient.telecom),
        *([None] * 18),
        patient.nhs_number_verification,
    )


def _xtn(point: ContactPoint) -> str:
    if point.system == "email":
        return comp(None, "NET", "Internet", point.value)
    equipment = "CP" if point.use == "mobile" else "FX" if point.system == "fax" else "PH"
    return comp(point.value, _PHONE_USE.get(point.use or "", "PRN"), equipment)


def from_pid(
    pid: Segment | None, mappings: PatientTables, defaults: tuple[str, str] = ("", "")
) -> Patient:
    """The patient of an inbound PID; ``MappingError`` for unmapped codes or missing data.

    ``defaults`` are the supplier's assigning authority and identifier type for
    a PID-3 that leaves CX-4 or CX-5 empty (common in v2.3 feeds).
    """
    if pid is None:
        raise errors.MappingError("the message has no PID segment")
    nhs_number, local = _identifiers(pid, mappings, defaults)
    birth = pid.get(7)
    try:
        birth_date = parse_date(birth)
    except ValueError:
        raise errors.MappingError("PID-7 birth date is missing or malformed") from None
    given = [g for g in (pid.get(5, 2), *pid.get(5, 3).split()) if g]
    name = HumanName(
        family=pid.get(5, 1, 1) or None,
        given=tuple(given),
        prefix=tuple(pid.get(5, 5).split()),
        use=_NAME_USE_IN.get(pid.get(5, 7)),
    )
    if not name.family and not name.given:
        raise errors.MappingError("PID-5 patient name is missing")
    verification = pid.get(32)
    return Patient(
        nhs_number=nhs_number,
        nhs_number_verification=verification if nhs_number and verification else None,
        local_identifier=local,
        name=name,
        gender=mappings.gender(pid.get(8)),
        birth_date=birth_date,
        address=_address(pid),
        telecom=_telecom(pid),
    )


def _identifiers(
    pid: Segment, mappings: PatientTables, defaults: tuple[str, str]
) -> tuple[str | None, Identifier | None]:
    nhs_number: str | None = None
    local: Identifier | None = None
    for raw in pid.repetitions(3):
        value = part(raw, 1)
        if not value:
            continue
        authority = part(raw, 4, 1) or defaults[0]
        type_code = part(raw, 5) or defaults[1]
        mapped = mappings.identifier(authority, type_code)
        if mapped.kind == "nhs-number":
            nhs_number = nhs_number or value.replace(" ", "")
        elif mapped.kind == "local" and not mapped.system.startswith("*"):
            local = local or Identifier(system=mapped.system, value=value)
    return nhs_number, local


def _address(pid: Segment) -> Address:
    raw = (pid.repetitions(11) or [""])[0]
    lines = tuple(v for v in (part(raw, 1, 1), part(raw, 2)) if v)
    return Address(
        lines=lines,
        city=part(raw, 3) or None,
        district=part(raw, 4) or None,
        postcode=part(raw, 5) or None,
        use=_ADDRESS_USE_IN.get(part(raw, 7)),
    )


def _telecom(pid: Segment) -> tuple[ContactPoint, ...]:
    points: list[ContactPoint] = []
    for raw in pid.repetitions(13):
        equipment, use = part(raw, 3), part(raw, 2)
        if equipment == "Internet" or use == "NET":
            if part(raw, 4):
                points.append(ContactPoint(system="email", value=part(raw, 4)))
            continue
        number = part(raw, 1) or part(raw, 12) or "".join(part(raw, n) for n in (5, 6, 7))
        if number:
            mobile = equipment == "CP"
            points.append(
                ContactPoint(
                    system="fax" if equipment == "FX" else "phone",
                    value=number,
                    use="mobile" if mobile else _PHONE_USE_IN.get(use),
                )
            )
    return tuple(points)
