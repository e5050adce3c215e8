"""Small, tolerant readers of provider JSON shared by the slot and appointment parsers.

sr_booking.md: consumers must cope with optional elements missing and with
resources they did not ask for; fs_times.md: times may carry any UTC offset and
are converted to UTC. A value that is present but unusable raises
``Unreadable`` naming the element (never its content, which may be personal).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.domain import Address

Json = dict[str, Any]

UUID_SYSTEM = "https://tools.ietf.org/html/rfc4122"
CC = "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-"


class Unreadable(ValueError):
    """A provider resource lacks something required, or holds it in an unusable form."""


def items(value: Any) -> list[Json]:
    """The JSON objects of a list element (anything else counts as absent)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def obj(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    """A non-empty string, else None (numbers and booleans are not strings in FHIR JSON)."""
    return value.strip() or None if isinstance(value, str) else None


def texts(value: Any) -> tuple[str, ...]:
    """A list of strings; a bare string (as DSTU2-era examples send) counts as one."""
    if isinstance(value, str):
        value = [value]
    return tuple(t for t in (text(v) for v in value) if t) if isinstance(value, list) else ()


def instant(value: Any, where: str) -> datetime:
    """An instant with an offset, converted to UTC (fs_times.md); naive times are refused."""
    raw = text(value)
    if raw is None:
        raise Unreadable(f"{where} is missing")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Unreadable(f"{where} is not an instant") from None
    if parsed.tzinfo is None:
        raise Unreadable(f"{where} has no UTC offset")
    return parsed.astimezone(UTC)


def reference_id(reference: Any, kind: str) -> str | None:
    """The id of a ``kind`` reference, relative ("Schedule/1") or absolute (".../Schedule/1")."""
    raw = text(obj(reference).get("reference"))
    if raw is None:
        return None
    parts = raw.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
        return parts[-1]
    return None


def identifier_value(resource: Json, system: str | None = None) -> str | None:
    """The value of the first identifier (of ``system`` when given)."""
    for ident in items(resource.get("identifier")):
        if system is None or ident.get("system") == system:
            value = text(ident.get("value"))
            if value:
                return value
    return None


def address(data: Json) -> Address:
    return Address(
        lines=texts(data.get("line")),
        city=text(data.get("city")),
        district=text(data.get("district")),
        postcode=text(data.get("postalCode")),
        text=text(data.get("text")),
        use=text(data.get("use")),
    )
