"""BaRS ``message`` Bundles from canonical values (BaRS-FHIR-Usage/, BaRS-APP1 payload pages).

Every Bundle is of type ``message`` with ``meta.versionId`` the application version
(``APPLICATION_VERSION``), a timestamp, the MessageHeader first, and every resource
carrying ``meta.lastUpdated``. The MessageHeader names its event, reason, focus,
definition, the sender and receiver Organizations (entries) and both endpoints
(``system|value`` of the services, as the published examples write them).

- ``booking_request``: the book message (bars-message-booking-request): Appointment
  (focus) for the searched Slot, with its Schedule and HealthcareService, the Patient;
- ``cancellation``: bars-message-booking-request-cancelled: the Appointment as read
  (Find-Resource: read before write) with status ``cancelled``, reason ``delete``
  (Cancellation: "This MUST be populated with 'delete' for a cancellation");
- ``referral_request``: servicerequest-request from a canonical ``Referral``: the
  ServiceRequest (focus), Patient, a CarePlan holding the triage outcome, every
  attachment that is a FHIR resource as its own entry, named by ``supportingInfo``,
  and the other resources its definition requires (``referral_parts``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.bars_toolkit import referral_parts
from adapters.bars_toolkit._resources import Json, meta, organisation, patient, urn
from adapters.domain import HealthcareService, Patient, Referral, Schedule, Slot

EVENTS = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
REASONS = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
USE_CASES = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
SR_CATEGORY = "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest"
BUNDLE_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"
_MD = "https://fhir.nhs.uk/MessageDefinition/"
BOOK_DEFINITION = _MD + "bars-message-booking-request"
CANCEL_DEFINITION = _MD + "bars-message-booking-request-cancelled"
REFERRAL_DEFINITION = _MD + "bars-message-servicerequest-request-referral"
_SD = "https://fhir.nhs.uk/StructureDefinition/"
_UK = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
#: Bundle.meta.versionId: the application version the messages comply with (major 1).
APPLICATION_VERSION = "1.1.0"
A1T1 = ("a1t1", "111 to ED")
DOS = "https://fhir.nhs.uk/Id/dos-service-id"


@dataclass(frozen=True, slots=True)
class Party:
    """One end of a message: its organisation and its service endpoint."""

    ods_code: str
    endpoint: str  # e.g. "https://fhir.nhs.uk/Id/dos-service-id|2000099999"
    name: str | None = None
    software: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends a message to whom, when, for which use case."""

    sender: Party
    receiver: Party
    now: datetime
    use_case: tuple[str, str] = A1T1


def _entry(resource: Json) -> Json:
    """An entry whose fullUrl is ``urn:uuid:`` the resource's id if a UUID, else a new one."""
    try:
        key = str(uuid.UUID(str(resource.get("id"))))
    except ValueError:
        key = str(uuid.uuid4())
    return {"fullUrl": f"urn:uuid:{key}", "resource": resource}


def _header(env: Envelope, event: str, reason: str, definition: str, parts: _Parts) -> Json:
    source: Json = {"endpoint": env.sender.endpoint}
    for key, value in (
        ("name", env.sender.name),
        ("software", env.sender.software),
        ("version", env.sender.version),
    ):
        if value:
            source[key] = value
    return {
        "resourceType": "MessageHeader",
        "id": str(uuid.uuid4()),
        "meta": meta(env.now, f"{_SD}BARSMessageHeader-{event}"),
        "eventCoding": {"system": EVENTS, "code": event},
        "destination": [
            {"endpoint": env.receiver.endpoint, "receiver": {"reference": parts.receiver}}
        ],
        "sender": {"reference": parts.sender},
        "source": source,
        "reason": {"coding": [{"system": REASONS, "code": reason}]},
        "focus": [{"reference": parts.focus}],
        "definition": definition,
    }


@dataclass(frozen=True, slots=True)
class _Parts:
    sender: str
    receiver: str
    focus: str


def _bundle(env: Envelope, event: str, reason: str, definition: str, body: list[Json]) -> Json:
    """The message: header first, then ``body`` (the focus first), then both Organizations."""
    orgs = [_entry(organisation(p.ods_code, p.name, env.now)) for p in (env.sender, env.receiver)]
    parts = _Parts(orgs[0]["fullUrl"], orgs[1]["fullUrl"], body[0]["fullUrl"])
    header = _header(env, event, reason, definition, parts)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {**meta(env.now, BUNDLE_PROFILE), "versionId": APPLICATION_VERSION},
        "type": "message",
        "timestamp": meta(env.now)["lastUpdated"],
        "entry": [_entry(header), *body, *orgs],
    }


def _use_case(env: Envelope) -> Json:
    code, display = env.use_case
    return {"coding": [{"system": USE_CASES, "code": code, "display": display}]}


def _diary(slot: Slot, schedule: Schedule, service: HealthcareService, now: datetime) -> list[Json]:
    """The searched Slot, its Schedule and the HealthcareService, as entries."""
    healthcare = _entry(
        {
            "resourceType": "HealthcareService",
            "id": service.id,
            "meta": meta(now, _UK + "HealthcareService"),
            "identifier": [{"system": DOS, "value": service.id}],
            "active": True,
            "name": service.name,
        }
    )
    diary = _entry(
        {
            "resourceType": "Schedule",
            "id": schedule.id,
            "meta": meta(now, _UK + "Schedule"),
            "actor": [{"reference": healthcare["fullUrl"]}],
        }
    )
    booked = _entry(
        {
            "resourceType": "Slot",
            "id": slot.id,
            "meta": meta(now, _UK + "Slot"),
            "schedule": {"reference": diary["fullUrl"]},
            "status": "busy",
            "start": slot.start.isoformat(),
            "end": slot.end.isoformat(),
        }
    )
    return [booked, diary, healthcare]


def booking_request(
    env: Envelope,
    *,
    slot: Slot,
    schedule: Schedule,
    service: HealthcareService,
    who: Patient,
    description: str,
    based_on: str | None = None,
) -> Json:
    """Book ``slot`` for ``who`` (BaRS-APP1/Booking-Request-Payload, example BOOKREQ01)."""
    person = _entry(patient(who, env.now))
    diary = _diary(slot, schedule, service, env.now)
    appointment = _entry(
        {
            "resourceType": "Appointment",
            "id": str(uuid.uuid4()),
            "meta": meta(env.now, _UK + "Appointment"),
            "status": "booked",
            "serviceCategory": [_use_case(env)],
            "description": description,
            "start": slot.start.isoformat(),
            "end": slot.end.isoformat(),
            "slot": [{"reference": diary[0]["fullUrl"]}],
            "created": meta(env.now)["lastUpdated"],
            "participant": [{"actor": {"reference": person["fullUrl"]}, "status": "accepted"}],
        }
    )
    if based_on:
        # Appointment.basedOn: the referral the booking is for (Booking-Request-Payload).
        appointment["resource"]["basedOn"] = [{"reference": based_on}]
    return _bundle(env, "booking-request", "new", BOOK_DEFINITION, [appointment, person, *diary])


def cancellation(env: Envelope, appointment: Json, who: Json) -> Json:
    """Cancel the Appointment as read (its id and ``meta.versionId`` say which version)."""
    person = _entry({**who, "meta": {**(who.get("meta") or {}), **meta(env.now)}})
    person["resource"].setdefault("id", str(uuid.uuid4()))
    focus: Json = {
        k: v for k, v in appointment.items() if k not in ("contained", "slot", "participant")
    }
    focus["meta"] = {**(appointment.get("meta") or {}), "lastUpdated": meta(env.now)["lastUpdated"]}
    focus["status"] = "cancelled"
    focus["participant"] = [{"actor": {"reference": person["fullUrl"]}, "status": "accepted"}]
    body = [_entry(focus), person]
    return _bundle(env, "booking-request", "delete", CANCEL_DEFINITION, body)


def _attached(referral: Referral, now: datetime, subject: str) -> list[tuple[Json, str | None]]:
    """The referral's FHIR-resource attachments as entries, with their titles.

    An attachment read from another format (an NHS 111 CDA's consent, say) may lack
    elements R4 requires of its type; ``referral_parts.completed`` adds them, so the
    receiver's structure check passes and nothing read is lost.
    """
    out = []
    for item in referral.clinical.attachments:
        if item.content_type != "application/fhir+json" or not item.data:
            continue
        resource: Json = referral_parts.completed(json.loads(item.data), subject)
        resource["meta"] = {**(resource.get("meta") or {}), **meta(now)}
        url = item.identifier if item.identifier.startswith("urn:uuid:") else urn()
        out.append(({"fullUrl": url, "resource": resource}, item.title))
    return out


def _service_request(referral: Referral, env: Envelope, subject: str) -> Json:
    request: Json = {
        "resourceType": "ServiceRequest",
        "id": str(uuid.uuid4()),
        "meta": meta(env.now, _SD + "BARSServiceRequest-request-referral"),
        "status": referral.status.value,
        "intent": "plan",
        "category": [
            {
                "coding": [
                    {"system": SR_CATEGORY, "code": "referral", "display": "Transfer of Care"},
                    _use_case(env)["coding"][0],
                ]
            }
        ],
        "subject": {"reference": subject},
        "authoredOn": meta(referral.authored)["lastUpdated"],
    }
    if referral.sender_identifier is not None:
        ident = referral.sender_identifier
        request["identifier"] = [{"system": ident.system, "value": ident.value}]
    if referral.reason or referral.reason_text:
        request["reasonCode"] = [
            {"coding": [{k: v for k, v in c.model_dump().items() if v is not None}]}
            for c in referral.reason
        ] + ([{"text": referral.reason_text}] if referral.reason_text else [])
    if referral.clinical.patient_instruction:
        request["patientInstruction"] = referral.clinical.patient_instruction
    if referral.clinical.summary:
        request["note"] = [{"text": referral.clinical.summary}]
    return request


def referral_request(
    env: Envelope,
    referral: Referral,
    *,
    reason: str = "new",
    appointment: str | None = "",
    receiver_id: str | None = None,
) -> Json:
    """A servicerequest-request carrying ``referral`` (BaRS-APP1/Referral-Payload, REFREQ01).

    ``appointment`` is the receiver's id of the booking the referral goes with
    (``supportingInfo`` -> ``Appointment/<id>``); ``""`` (the default) takes
    ``referral.appointment_id`` as that id, ``None`` names no booking. ``receiver_id``
    is the ServiceRequest id the receiver gave (an update or cancel names it).
    """
    person = _entry(patient(referral.patient, env.now))
    request = _service_request(referral, env, person["fullUrl"])
    if receiver_id:
        request["id"] = receiver_id
    body = [_entry(request), person]
    attached = _attached(referral, env.now, person["fullUrl"])
    carried = {str(e["resource"].get("resourceType")) for e, _ in attached}
    if referral.triage is not None or "CarePlan" not in carried:
        body.append(_entry(referral_parts.care_plan(referral, person["fullUrl"], env.now)))
        request["basedOn"] = [{"reference": body[-1]["fullUrl"]}]
    if attached:
        request["supportingInfo"] = [
            {"reference": e["fullUrl"], **({"display": t} if t else {})} for e, t in attached
        ]
        body.extend(e for e, _ in attached)
    parts = referral_parts.context(
        referral, person["fullUrl"], env.receiver.endpoint, env.now, carried
    )
    body.extend(_entry(r) for r in parts)
    booking = referral.appointment_id if appointment == "" else appointment
    if booking:
        request.setdefault("supportingInfo", []).append(
            {"reference": f"Appointment/{booking}", "display": "Booking"}
        )
    return _bundle(env, "servicerequest-request", reason, REFERRAL_DEFINITION, body)


def focus_of(message: Json) -> Json:
    """The resource a message's MessageHeader.focus names."""
    header: Json = message["entry"][0]["resource"]
    wanted = header["focus"][0]["reference"]
    found: Json = next(e["resource"] for e in message["entry"] if e.get("fullUrl") == wanted)
    return found


def entries_of(message: Json, kind: str) -> list[Json]:
    return [e["resource"] for e in message.get("entry") or [] if _kind(e) == kind]


def _kind(entry: Any) -> str:
    return str(((entry or {}).get("resource") or {}).get("resourceType"))


def patient_resource(who: Patient, now: datetime, resource_id: str | None = None) -> Json:
    """The UK Core Patient every message (and the REST pattern's contained one) carries."""
    return patient(who, now, resource_id)
