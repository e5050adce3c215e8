"""R4 (UK Core) resources a receiver answers with -> canonical values.

Tolerant reading (a receiver is not ours): an element we need and cannot read is
``Unreadable`` naming the element, never its content; elements we do not need are
ignored. The Patient is read back as the toolkit wrote it (_resources.patient).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from adapters.domain import (
    Address,
    ContactPoint,
    Gender,
    HumanName,
    Identifier,
    Patient,
)

Json = dict[str, Any]
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
VERIFICATION_SUFFIX = "NHSNumberVerificationStatus"


class Unreadable(ValueError):
    """A resource lacks (or garbles) an element we need; the message names the element."""


def dicts(value: Any) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def text(data: Json, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise Unreadable(f"{where}.{key} is missing")
    return value


def instant(data: Json, key: str, where: str) -> datetime:
    raw = text(data, key, where)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Unreadable(f"{where}.{key} is not a dateTime") from None
    if value.tzinfo is None:
        raise Unreadable(f"{where}.{key} has no UTC offset")
    return value


def ref_id(reference: Any, kind: str) -> str | None:
    """The id of ``Kind/<id>`` (or a URL ending so), else None."""
    if not isinstance(reference, dict):
        return None
    value = reference.get("reference")
    if not isinstance(value, str):
        return None
    head, _, key = value.rstrip("/").rpartition("/")
    return key if head.rpartition("/")[2] == kind and key else None


def _verification(ident: Json) -> str | None:
    for ext in dicts(ident.get("extension")):
        if str(ext.get("url", "")).endswith(VERIFICATION_SUFFIX):
            for coding in dicts((ext.get("valueCodeableConcept") or {}).get("coding")):
                if isinstance(coding.get("code"), str):
                    return str(coding["code"])
    return None


def _name(data: Json) -> HumanName:
    names = dicts(data.get("name"))
    if not names:
        raise Unreadable("Patient.name is missing")
    name = next((n for n in names if n.get("use") == "official"), names[0])
    return HumanName(
        family=name.get("family") if isinstance(name.get("family"), str) else None,
        given=tuple(g for g in name.get("given") or () if isinstance(g, str)),
        prefix=tuple(p for p in name.get("prefix") or () if isinstance(p, str)),
        use=name.get("use") if isinstance(name.get("use"), str) else None,
    )


def _address(data: Json) -> Address:
    found = dicts(data.get("address"))
    if not found:
        return Address()
    one = next((a for a in found if a.get("use") == "home"), found[0])

    def pick(key: str) -> str | None:
        value = one.get(key)
        return value if isinstance(value, str) and value else None

    return Address(
        lines=tuple(x for x in one.get("line") or () if isinstance(x, str)),
        city=pick("city"),
        district=pick("district"),
        postcode=pick("postalCode"),
        text=pick("text"),
        use=pick("use"),
    )


def _telecom(data: Json) -> tuple[ContactPoint, ...]:
    out = []
    for point in dicts(data.get("telecom")):
        system, value = point.get("system"), point.get("value")
        if isinstance(system, str) and isinstance(value, str):
            rank = point.get("rank")
            out.append(
                ContactPoint(
                    system=system,
                    value=value,
                    use=point.get("use") if isinstance(point.get("use"), str) else None,
                    rank=rank if isinstance(rank, int) else None,
                )
            )
    # Ranks that are exactly the positions are what a writer adds (bars_toolkit._resources).
    if all(p.rank == i for i, p in enumerate(out, start=1)):
        out = [p.model_copy(update={"rank": None}) for p in out]
    return tuple(out)


def patient(data: Json) -> Patient:
    """A UK Core Patient -> the canonical Patient."""
    nhs, verification, local = None, None, None
    for ident in dicts(data.get("identifier")):
        system, value = ident.get("system"), ident.get("value")
        if not isinstance(system, str) or not isinstance(value, str):
            continue
        if system == NHS_NUMBER:
            nhs, verification = value, _verification(ident)
        elif local is None:
            local = Identifier(system=system, value=value)
    try:
        gender = Gender(str(data.get("gender") or "unknown"))
        born = date.fromisoformat(text(data, "birthDate", "Patient"))
    except ValueError as exc:
        raise Unreadable(f"Patient: {type(exc).__name__} in gender or birthDate") from None
    return Patient(
        nhs_number=nhs,
        nhs_number_verification=verification,
        local_identifier=local,
        name=_name(data),
        gender=gender,
        birth_date=born,
        address=_address(data),
        telecom=_telecom(data),
    )
