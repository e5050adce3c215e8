"""The door's R4 CapabilityStatement, generated from what the routed adapters can do.

Failure-Scenarios/Capability-Statement: /metadata needs no target; without one
it describes the whole receiver (every adapter), with one the service it names
(that service's adapter). Compare api/examples/metadata/BaRS_API_Capability_Statement.json.
``$process-message`` is stated as the example statement does (a ``rest.operation``
and ``messaging.supportedMessage`` in mode ``receiver``, one per MessageDefinition
received; examples/BARS-CapabilityStatement-example.xml). With mutual TLS on
(``bars.tls``), ``rest.security`` names certificates as the example does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from adapters.contract import Capability
from gateway.bars.render import UK_CORE
from gateway.bars.search import INCLUDES, SERVICE_PARAM
from gateway.fhir.capability import SOFTWARE

Json = dict[str, Any]
_HTTP = {"system": "http://terminology.hl7.org/CodeSystem/message-transport", "code": "http"}
PROCESS_MESSAGE = "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"

#: rest.security when the door's mutual TLS is on (examples/BARS-CapabilityStatement-example.xml:
#: service ``Certificates``; core/Security-and-Authorisation/Receiver: TLS-MA).
SECURITY: Json = {
    "service": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "Certificates",
                    "display": "Certificates",
                }
            ]
        }
    ],
    "description": "Mutual TLS (TLS-MA): every client presents a certificate that the "
    "receiver verifies against its configured CA (the national proxy's chain); "
    "a connection without one is refused in the handshake",
}

_INCLUDE_NEEDS = {
    "Slot:schedule": Capability.INCLUDE_SCHEDULE,
    "Schedule:actor:Practitioner": Capability.INCLUDE_PRACTITIONER,
    "Schedule:actor:PractitionerRole": Capability.INCLUDE_PRACTITIONER_ROLE,
    "Schedule:actor:HealthcareService": Capability.INCLUDE_SERVICE,
    "HealthcareService:providedBy": Capability.INCLUDE_ORGANISATION,
    "HealthcareService:location": Capability.INCLUDE_LOCATION,
}


def _param(name: str, kind: str, documentation: str) -> Json:
    return {"name": name, "type": kind, "documentation": documentation}


def _slot(caps: set[Capability]) -> Json:
    return {
        "type": "Slot",
        "profile": UK_CORE + "Slot",
        "interaction": [{"code": "search-type"}],
        "searchInclude": [i for i in INCLUDES if _INCLUDE_NEEDS[i] in caps],
        "searchParam": [
            _param("status", "token", "Comma-separated slot statuses (free, busy)"),
            _param("start", "date", "Twice: start=ge<dateTime>&start=le<dateTime>, with offsets"),
            _param(SERVICE_PARAM, "token", "The service (as NHSD-Target-Identifier names it)"),
        ],
    }


def _appointment(caps: set[Capability]) -> Json:
    interactions = []
    if Capability.BOOK in caps:
        interactions.append({"code": "create"})
    # update: PUT (a reasonCode needs no supplier call; a cancel needs Capability.CANCEL);
    # patch: a reschedule books the new slot and cancels the old one.
    interactions += [{"code": "read"}, {"code": "search-type"}, {"code": "update"}]
    if {Capability.BOOK, Capability.CANCEL} <= caps:
        interactions.append({"code": "patch"})
    return {
        "type": "Appointment",
        "profile": UK_CORE + "Appointment",
        "interaction": interactions,
        "versioning": "versioned-update",
        "readHistory": False,
        "updateCreate": False,
        "searchParam": [
            _param(
                "patient:identifier",
                "token",
                "NHS Number (system must be https://fhir.nhs.uk/Id/nhs-number)",
            ),
            _param("patient:name", "string", "with patient:birthdate and postcode"),
            _param("patient:birthdate", "date", "YYYY-MM-DD, eq only"),
            _param("patient:address-postalcode", "string", "the home address's postcode"),
        ],
    }


def _service_request() -> Json:
    """Referrals are stored for every service (gateway/referrals.py), whatever the adapter."""
    return {
        "type": "ServiceRequest",
        "profile": "https://fhir.nhs.uk/StructureDefinition/BARSServiceRequest-request-referral",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            _param(
                "patient:identifier",
                "token",
                "NHS Number (system must be https://fhir.nhs.uk/Id/nhs-number)",
            ),
            _param("ServiceRequest.identifier", "token", "The sender's identifier, or our id"),
        ],
    }


def capability_statement(
    capabilities: Iterable[frozenset[Capability]],
    *,
    service_root: str,
    software_version: str,
    core_version: str,
    now: datetime,
    messages: Iterable[str] = (),
    mutual_tls: bool = False,
) -> Json:
    caps: set[Capability] = set()
    for item in capabilities:
        caps |= item
    resources = []
    if Capability.SEARCH_SLOTS in caps:
        resources.append(_slot(caps))
    resources.append(_appointment(caps))
    resources.append(_service_request())
    statement: Json = {
        "resourceType": "CapabilityStatement",
        "meta": {"lastUpdated": now.isoformat(timespec="milliseconds")},
        "version": core_version,
        "name": "UecGatewayBaRSReceiver",
        "title": "uec-gateway BaRS receiver",
        "status": "active",
        "date": now.date().isoformat(),
        "publisher": "uec-gateway",
        "description": "Booking and Referral Standard receiver (FHIR R4) served by uec-gateway",
        "kind": "instance",
        "software": {"name": SOFTWARE, "version": software_version},
        "implementation": {"description": "uec-gateway BaRS receiver", "url": service_root},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml"],
        "rest": [{"mode": "server", "resource": resources}],
    }
    if mutual_tls:
        statement["rest"][0] = {"mode": "server", "security": SECURITY, "resource": resources}
    received = list(messages)
    if received:
        resources.append(
            {
                "type": "MessageDefinition",
                "interaction": [{"code": "search-type"}],
                "searchParam": [
                    _param("context", "token", "A use case or context the message is received in")
                ],
            }
        )
        statement["rest"][0]["operation"] = [
            {"name": "$process-message", "definition": PROCESS_MESSAGE}
        ]
        statement["messaging"] = [
            {
                "endpoint": [{"protocol": _HTTP, "address": service_root}],
                "supportedMessage": [{"mode": "receiver", "definition": u} for u in received],
            }
        ]
    return statement
