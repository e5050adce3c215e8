"""BaRS request headers -> who is asking, for whom, and in which format.

- End-to-end-workflow/, api spec: ``X-Request-Id`` and ``X-Correlation-Id`` are
  required GUIDs (400 REC_BAD_REQUEST ``invalid`` without, ``value`` if not a
  GUID; GET--Slots "Common Failures"), mirrored back;
- ``NHSD-Target-Identifier``: Base64 JSON ``{"system", "value"}`` naming the
  receiving service (every endpoint but /metadata);
- ``NHSD-End-User-Organisation`` (an Organization), ``NHSD-Requesting-Software``
  (a Device), ``NHSD-Requesting-Practitioner`` (a PractitionerRole, optional):
  Base64 JSON FHIR objects; only their identifiers are kept;
- Content-Negotiation/Mechanism: the Accept header's ``version`` parameter names
  the BaRS Core version; a major version we do not serve is 406. FHIR JSON is
  the format BaRS requires; FHIR XML is served too.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.domain import (
    Identifier,
    RequestingDevice,
    RequestingOrganisation,
    RequestingPractitioner,
)
from gateway.bars.errors import Rec, RecError, bad_header
from gateway.fhir.formats import WireFormat

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
TARGET = "NHSD-Target-Identifier"
ORGANISATION = "NHSD-End-User-Organisation"
SOFTWARE = "NHSD-Requesting-Software"
PRACTITIONER = "NHSD-Requesting-Practitioner"
JSON_TYPE = "application/fhir+json"


@dataclass(frozen=True, slots=True)
class TargetId:
    system: str
    value: str


@dataclass(frozen=True, slots=True)
class Identity:
    """The sender's organisation, software and practitioner, as its headers say."""

    organisation: RequestingOrganisation | None = None
    device: RequestingDevice | None = None
    practitioner: RequestingPractitioner | None = None


def _id_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value or not value.strip():
        raise bad_header(name, "invalid", f"the {name} header is required")
    try:
        uuid.UUID(value.strip())
    except ValueError:
        raise bad_header(name, "value", f"the {name} header must be a GUID") from None
    return value.strip()


def request_ids(headers: Mapping[str, str]) -> tuple[str, str]:
    """(X-Request-Id, X-Correlation-Id), both required GUIDs."""
    return _id_header(headers, "X-Request-Id"), _id_header(headers, "X-Correlation-Id")


def _decoded(headers: Mapping[str, str], name: str) -> dict[str, Any] | None:
    raw = headers.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        text = base64.b64decode(raw.strip(), validate=True).decode("utf-8")
        data = json.loads(text)
    except (binascii.Error, ValueError, RecursionError):
        raise bad_header(name, "invalid", f"the {name} header is not Base64-encoded JSON") from None
    if not isinstance(data, dict):
        raise bad_header(name, "structure", f"the {name} header must hold a JSON object")
    return data


def _text_field(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def target(headers: Mapping[str, str]) -> TargetId:
    """The NHSD-Target-Identifier: which service the sender wants."""
    data = _decoded(headers, TARGET)
    if data is None:
        raise bad_header(TARGET, "required", f"the {TARGET} header is required")
    system, value = _text_field(data, "system"), _text_field(data, "value")
    if system is None or value is None:
        raise bad_header(TARGET, "structure", f"the {TARGET} header needs a system and a value")
    return TargetId(system, value)


def _identifiers(data: Mapping[str, Any], name: str) -> tuple[Identifier, ...]:
    found = data.get("identifier") or []
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list):
        raise bad_header(name, "structure", f"{name}: identifier must be a list")
    out = []
    for item in found:
        system = _text_field(item, "system") if isinstance(item, dict) else None
        value = _text_field(item, "value") if isinstance(item, dict) else None
        if system is None or value is None:
            raise bad_header(name, "structure", f"{name}: each identifier needs system and value")
        out.append(Identifier(system=system, value=value))
    return tuple(out)


def _organisation(headers: Mapping[str, str]) -> RequestingOrganisation:
    data = _decoded(headers, ORGANISATION)
    if data is None:
        raise bad_header(ORGANISATION, "required", f"the {ORGANISATION} header is required")
    ods = next((i.value for i in _identifiers(data, ORGANISATION) if i.system == ODS_SYSTEM), None)
    if ods is None:
        raise bad_header(
            ORGANISATION, "structure", f"{ORGANISATION} needs an identifier in {ODS_SYSTEM}"
        )
    return RequestingOrganisation(ods_code=ods, name=_text_field(data, "name"))


def _version(data: Mapping[str, Any]) -> str | None:
    # The api spec's example writes one object; R4 Device.version is a list of them.
    found = data.get("version")
    first = found[0] if isinstance(found, list) and found else found
    return _text_field(first, "value") if isinstance(first, dict) else None


def _device(headers: Mapping[str, str]) -> RequestingDevice:
    data = _decoded(headers, SOFTWARE)
    if data is None:
        raise bad_header(SOFTWARE, "required", f"the {SOFTWARE} header is required")
    ids = _identifiers(data, SOFTWARE)
    if not ids:
        raise bad_header(SOFTWARE, "structure", f"{SOFTWARE} needs an identifier")
    name = data.get("deviceName")
    first = name[0] if isinstance(name, list) and name else name
    model = _text_field(first, "name") if isinstance(first, dict) else None
    return RequestingDevice(identifier=ids[0], model=model, version=_version(data))


def _practitioner(headers: Mapping[str, str]) -> RequestingPractitioner | None:
    data = _decoded(headers, PRACTITIONER)
    if data is None:
        return None
    ids = _identifiers(data, PRACTITIONER)
    key = _text_field(data, "id") or (ids[0].value if ids else None)
    if key is None:
        raise bad_header(PRACTITIONER, "structure", f"{PRACTITIONER} needs an id or identifier")
    return RequestingPractitioner(id=key, identifiers=ids)


def identity(headers: Mapping[str, str]) -> Identity:
    """The sender's identity headers, decoded (End-User-Organisation and Software required)."""
    return Identity(_organisation(headers), _device(headers), _practitioner(headers))


def _media(item: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = item.partition(";")
    params = {}
    for part in rest.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return kind.strip().lower(), params


_KINDS = {
    JSON_TYPE: WireFormat.JSON,
    "application/json": WireFormat.JSON,
    "*/*": WireFormat.JSON,
    "application/*": WireFormat.JSON,
    "application/fhir+xml": WireFormat.XML,
    "application/xml": WireFormat.XML,
    "text/xml": WireFormat.XML,
}


def negotiate(accept: str | None, majors: tuple[int, ...]) -> WireFormat:
    """The first format Accept allows, of a BaRS Core major version we serve; else 406.
    No Accept is JSON (the format BaRS requires)."""
    if not accept or not accept.strip():
        return WireFormat.JSON
    offered = ", ".join(str(m) for m in majors)
    for item in accept.split(","):
        kind, params = _media(item)
        fmt = _KINDS.get(kind)
        if fmt is None or params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        version = params.get("version")
        if version is None or _major(version) in majors:
            return fmt
        raise RecError(
            Rec.NOT_ACCEPTABLE,
            "processing",
            f"BaRS Core version {version[:20]} is not served here; major version(s) {offered} are",
            expression="http.Accept",
        )
    raise RecError(
        Rec.NOT_ACCEPTABLE,
        "processing",
        f"Accept '{accept[:80]}' allows no format served here ({JSON_TYPE}, application/fhir+xml)",
        expression="http.Accept",
    )


def _major(version: str) -> int | None:
    head = version.strip().split(".")[0]
    return int(head) if head.isascii() and head.isdigit() and len(head) < 4 else None
