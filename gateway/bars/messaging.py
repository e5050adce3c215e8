"""``POST /$process-message`` and ``GET /MessageDefinition``: one row per event received.

BaRS-FHIR-Usage/process-message: the endpoint takes only message Bundles, and
the MessageHeader's event says how each is processed. ``EVENTS`` is that table:
each row names the event code, the MessageDefinitions it is received under
(which ``GET /MessageDefinition`` lists, so the list is what the door serves)
and the handler. The answer is synchronous: a response message Bundle whose
MessageHeader.response says ``ok``, or the REC OperationOutcome of the failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from adapters.domain import utcnow
from gateway.bars import _trace, messaging_booking, messaging_referral
from gateway.bars._message import (
    EVENTS_SYSTEM,
    Definition,
    Json,
    Message,
    read_message,
)
from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BarsExchange
from gateway.bars.requests import answer, base, begin, body
from gateway.fhir import render as stu3

Handler = Callable[[web.Request, BarsExchange, Message], Awaitable[web.Response]]
USAGE_CONTEXT = "http://terminology.hl7.org/CodeSystem/usage-context-type"
USE_CASES = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
DOS = "https://fhir.nhs.uk/Id/dos-service-id"


@dataclass(frozen=True, slots=True)
class Event:
    code: str
    definitions: tuple[Definition, ...]
    handle: Handler


async def _referral(request: web.Request, ex: BarsExchange, message: Message) -> web.Response:
    """servicerequest-request: the referral handler answers (resource, status, headers)."""
    resource, status, extra = await messaging_referral.handle_servicerequest(
        request, ex, message.bundle
    )
    return await answer(resource, ex, status=status, extra=extra)


#: Every event ``$process-message`` receives, with the MessageDefinitions it is received
#: under (listed by ``GET /MessageDefinition`` and the CapabilityStatement); another event
#: is one more row.
EVENTS: dict[str, Event] = {
    e.code: e
    for e in (
        Event("booking-request", messaging_booking.DEFINITIONS, messaging_booking.handle),
        Event("servicerequest-request", messaging_referral.DEFINITIONS, _referral),
    )
}


def definitions() -> list[Definition]:
    """Every MessageDefinition received, in the events table's order."""
    return [d for e in EVENTS.values() for d in e.definitions]


async def process_message(request: web.Request) -> web.Response:
    ex = begin(request, "process_message")
    message = read_message(await body(request))
    _trace.note_message(message)
    event = EVENTS.get(message.event)
    if event is None:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "not-supported",
            f"event '{message.event[:40]}' is not received here (received: "
            + ", ".join(sorted(EVENTS))
            + ")",
            expression="MessageHeader.eventCoding.code",
        )
    return await event.handle(request, ex, message)


def _definition_id(definition: Definition) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, definition.url))


def message_definition(definition: Definition, now: str) -> Json:
    """A MessageDefinition resource from its row (compare message-definitions/*.xml)."""
    contexts = [
        {
            "code": {"system": USAGE_CONTEXT, "code": "workflow"},
            "valueCodeableConcept": {"coding": [{"system": DOS, "code": "dos-id"}]},
        },
    ] + [
        {
            "code": {"system": USAGE_CONTEXT, "code": "workflow"},
            "valueCodeableConcept": {
                "coding": [{"system": USE_CASES, "code": code, "display": display}]
            },
        }
        for code, display in definition.use_cases
    ]
    return {
        "resourceType": "MessageDefinition",
        "id": _definition_id(definition),
        "meta": {"lastUpdated": now},
        "url": definition.url,
        "version": definition.version,
        "name": definition.name,
        "title": definition.name,
        "status": "active",
        "date": definition.date,
        "useContext": contexts,
        "eventCoding": {"system": EVENTS_SYSTEM, "code": definition.event},
        "focus": [
            {
                "code": f.code,
                "profile": f.profile,
                "min": f.min,
                "max": "*" if f.max is None else str(f.max),
            }
            for f in definition.focus
        ],
    }


def _matches(definition: Json, wanted: Iterable[str]) -> bool:
    """FHIR token search on useContext's value: ``code`` or ``system|code``, any of them."""
    codings = [c for u in definition["useContext"] for c in u["valueCodeableConcept"]["coding"]]
    for token in wanted:
        for value in token.split(","):
            system, bar, code = value.rpartition("|")
            if any(c["code"] == code and (not bar or c["system"] == system) for c in codings):
                return True
    return False


async def list_definitions(request: web.Request) -> web.Response:
    ex = begin(request, "message_definitions", target=False)
    now = stu3.instant(utcnow())
    found = [message_definition(d, now) for d in definitions()]
    wanted = request.query.getall("context", [])
    if wanted:
        found = [d for d in found if _matches(d, wanted)]
    root = base(request)
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now},
        "type": "searchset",
        "total": len(found),
        "entry": [
            {
                "fullUrl": f"{root}/MessageDefinition/{d['id']}",
                "resource": d,
                "search": {"mode": "match"},
            }
            for d in found
        ],
    }
    return await answer(bundle, ex)
