"""The headers every BaRS request carries (End-to-end-workflow/, api/booking-and-referral.yaml).

- ``X-Request-Id`` and ``X-Correlation-Id``: GUIDs; the receiver mirrors them back and
  treats a second request with the same X-Request-Id as a duplicate (Transactional-
  integrity/), so a retry reuses them: ``guid_for`` derives one from any idempotency key;
- ``NHSD-Target-Identifier``: Base64 JSON ``{"system", "value"}`` of the receiving service
  (e.g. a DoS service id), by which the proxy routes;
- ``NHSD-End-User-Organisation`` (an Organization with its ODS code),
  ``NHSD-Requesting-Software`` (a Device) and ``NHSD-Requesting-Practitioner``
  (a PractitionerRole, "if the information is available it must be included");
- ``Accept`` naming the BaRS Core version; ``use-context`` for the proxy's statistics.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.domain import CallContext

DOS_SYSTEM = "https://fhir.nhs.uk/Id/dos-service-id"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_ROLE_PROFILE = "https://fhir.nhs.uk/Id/sds-role-profile-id"
#: The BaRS Core version this toolkit's messages follow (Content-Negotiation/Mechanism).
CORE_VERSION = "1.5.0"
JSON_TYPE = "application/fhir+json"
XML_TYPE = "application/fhir+xml"
_KEYS = uuid.UUID("5a1f3e0e-7b7e-4a43-9b35-3a0b0d6f2b8c")


@dataclass(frozen=True, slots=True)
class Target:
    """The receiving service, as ``NHSD-Target-Identifier`` names it."""

    system: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Target:
        """``system|value``, or a bare value (a DoS service id)."""
        system, bar, value = text.rpartition("|")
        if not value.strip():
            raise ValueError(f"target '{text}' names no value")
        return cls(system if bar else DOS_SYSTEM, value.strip())

    def encoded(self) -> str:
        return b64json({"system": self.system, "value": self.value})


def b64json(data: Mapping[str, Any]) -> str:
    """Standard Base64 of compact JSON: how every NHSD-* header carries its object."""
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def guid_for(key: str) -> str:
    """``key`` if it is a GUID, else a GUID derived from it (the same key, the same GUID)."""
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid5(_KEYS, key))


def organisation_header(ctx: CallContext) -> str:
    org = ctx.organisation
    if org is None:
        raise ValueError("a BaRS request needs the end user's organisation (its ODS code)")
    data: dict[str, Any] = {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_SYSTEM, "value": org.ods_code}],
    }
    if org.name:
        data["name"] = org.name
    return b64json(data)


def software_header(ctx: CallContext) -> str:
    device = ctx.device
    if device is None:
        raise ValueError("a BaRS request needs the requesting software (a Device identifier)")
    data: dict[str, Any] = {
        "resourceType": "Device",
        "identifier": [{"system": device.identifier.system, "value": device.identifier.value}],
    }
    if device.model:
        data["deviceName"] = [{"name": device.model, "type": "manufacturer-name"}]
    if device.version:
        data["version"] = [{"value": device.version}]
    return b64json(data)


def practitioner_header(ctx: CallContext) -> str | None:
    who = ctx.practitioner
    if who is None:
        return None
    ids = who.identifiers or ()
    data: dict[str, Any] = {"resourceType": "PractitionerRole", "id": who.id}
    if ids:
        data["identifier"] = [{"system": i.system, "value": i.value} for i in ids]
    return b64json(data)


def request_headers(
    target: Target,
    ctx: CallContext,
    *,
    accept: str = JSON_TYPE,
    content_type: str | None = None,
    use_context: str | None = None,
    request_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, str]:
    """Every header of one BaRS request; the ids come from ``ctx`` (a retry reuses them)
    unless given (a sender deriving one id per operation of a call: ``transaction_ids``)."""
    out = {
        "X-Request-Id": request_id or guid_for(ctx.request_id),
        "X-Correlation-Id": correlation_id or guid_for(ctx.correlation_id or ctx.request_id),
        "NHSD-Target-Identifier": target.encoded(),
        "NHSD-End-User-Organisation": organisation_header(ctx),
        "NHSD-Requesting-Software": software_header(ctx),
        "Accept": f"{accept}; version={CORE_VERSION}",
    }
    practitioner = practitioner_header(ctx)
    if practitioner is not None:
        out["NHSD-Requesting-Practitioner"] = practitioner
    if content_type is not None:
        out["Content-Type"] = content_type
    if use_context is not None:
        out["use-context"] = use_context
    return out


def transaction_ids(key: str, operation: str, step: str = "") -> tuple[str, str]:
    """(X-Request-Id, X-Correlation-Id) of one request of a call under idempotency ``key``.

    Transactional-integrity/Definition-of-a-retry: a retry carries the same ids, so both
    are derived, never drawn: the correlation id from ``key`` alone (every request of
    the call shares it), the request id from ``key``, the operation and the step (a
    booking's POST is ``key`` itself when that is a GUID, so the receiver sees the
    consumer's own id).
    """
    correlation = guid_for(f"correlation|{key}")
    if operation == "book" and not step:
        try:
            return str(uuid.UUID(key)), correlation
        except ValueError:
            pass
    return guid_for(f"{operation}|{step}|{key}"), correlation
