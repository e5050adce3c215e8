"""``$process-message`` for the ``servicerequest-request`` event (a referral).

process-message.page.md: synchronous; the answer is a ``servicerequest-response``
message Bundle (MessageHeader, the ServiceRequest as stored, its Patient) or an
OperationOutcome with a REC code. BARS-message-reason: ``new`` creates,
``update`` makes the next version, ``delete`` (the sender's cancel) revokes; an
``update`` whose ServiceRequest.status is ``revoked`` revokes too.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from adapters.domain import Referral, ReferralRequester, ReferralStatus, utcnow
from gateway._referral_claims import DuplicateReferral
from gateway.bars import referral_in, referral_out
from gateway.bars._message import BUNDLE_PROFILE, Definition, Focus, check_focus
from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BARS, BarsExchange
from gateway.fhir import render as stu3
from gateway.referrals import referral_key
from gateway.store import ReferralVersion

Json = dict[str, Any]
#: (resource, HTTP status, extra headers)
Answer = tuple[Json, int, dict[str, str]]
RESPONSE_EVENT = "servicerequest-response"
EVENT = "servicerequest-request"
_UK = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
_BARS = "https://fhir.nhs.uk/StructureDefinition/BARS"
_HEADER = _BARS + "MessageHeader-servicerequest-request"
_SERVICE_REQUEST = _BARS + "ServiceRequest-request-referral"
_INCIDENT = "https://fhir.hl7.org.uk/StructureDefinition/BARSLocation-incident-location"


def _rows(*rows: tuple[str, int, int | None]) -> tuple[Focus, ...]:
    """UK Core focus rows: (resource type, min, max)."""
    return tuple(Focus(code, _UK + code, low, high) for code, low, high in rows)


_ENVELOPE = (
    Focus("Bundle", BUNDLE_PROFILE, 1, 1),
    Focus("MessageHeader", _HEADER, 1, 1),
    Focus("ServiceRequest", _SERVICE_REQUEST, 1, 1),
)
#: message-definitions/BARS-MessageDefinition-ServiceRequest-Request-Referral.xml (as
#: published: its useContext names the CAD-to-CAD use cases; REFREQ01, 111 to ED, names it).
REFERRAL = Definition(
    url="https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral",
    name="BARS Message Definition ServiceRequest - Request Referral",
    event=EVENT,
    version="1.0.0-beta",
    date="2026-07-13",
    use_cases=(
        ("a6t3", "CAD to CAD Mutual Aid Request"),
        ("a6t2", "CAD to CAD Call Assist Request"),
        ("a6t1", "CAD to CAD Out of Area Request"),
    ),
    focus=(
        *_ENVELOPE,
        *_rows(("Patient", 1, 1), ("Encounter", 1, 1), ("CarePlan", 1, 1)),
        Focus(
            "Location",
            "https://fhir.hl7.org.uk/StructureDefinition/BARSLocation-incident-location",
            0,
            1,
        ),
        *_rows(
            ("Location", 0, None),
            ("Organization", 2, None),
            ("Practitioner", 1, None),
            ("PractitionerRole", 1, None),
            ("Observation", 0, None),
        ),
        Focus("Flag", _BARS + "Flag-scene-safety", 0, None),
        Focus("Flag", "http://hl7.org/fhir/StructureDefinition/Flag", 0, None),
        *_rows(
            ("MedicationStatement", 0, None),
            ("AllergyIntolerance", 0, None),
            ("Questionnaire", 0, None),
            ("QuestionnaireResponse", 0, None),
            ("Consent", 1, None),
            ("HealthcareService", 1, None),
            ("Condition", 0, None),
            ("Task", 0, None),
            ("Communication", 0, None),
            ("Procedure", 0, None),
        ),
        Focus("Device", "http://hl7.org/fhir/StructureDefinition/Device", 0, 1),
        *_rows(("RelatedPerson", 0, None)),
    ),
)
#: message-definitions/BARSMessageDefinitionServiceRequestRequestCancelled.xml
CANCEL = Definition(
    url="https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-cancelled",
    name="BARS Message Definition ServiceRequest - Request - Cancelled",
    event=EVENT,
    version="1.0.0",
    date="2025-03-24",
    use_cases=(("a1t1", "111 to ED"),),
    focus=(*_ENVELOPE, *_rows(("Patient", 1, 1), ("Organization", 2, None))),
)
DEFINITIONS = (REFERRAL, CANCEL)


def definition_of(msg: referral_in.Message) -> Definition:
    """The definition a referral message is checked against: the cancelled one when the
    header names it (or, naming none, for reason ``delete``), else the referral one."""
    named = msg.header.get("definition")
    if named == CANCEL.url or (not named and msg.reason == "delete"):
        return CANCEL
    return REFERRAL


def check_resources(msg: referral_in.Message) -> None:
    """The message's entries against its definition's focus rows (the booking definitions'
    check). Held to the referral definition's minimums only: an update (the published
    REFREQ8B-8D, REFREQ9A 2-3 carry the earlier Encounter beside the new one) and a
    message naming another application's definition (VALRESP01, validation), taken as
    a referral."""
    definition = definition_of(msg)
    named = msg.header.get("definition")
    foreign = bool(named) and named not in (REFERRAL.url, CANCEL.url)
    relaxed = definition is REFERRAL and (msg.reason == "update" or foreign)
    check_focus(msg.bundle, definition, maxima=not relaxed)


def _duplicate(base: str, referral_id: str, version: int, request_id: str | None) -> RecError:
    return RecError(
        Rec.CONFLICT,
        "duplicate",
        "This message has been recognised as having already been successfully processed: "
        f"X-Request-Id '{request_id}' made ServiceRequest/{referral_id} version {version}. "
        "Nothing was done again.",
        headers={"Content-Location": f"{base}/ServiceRequest/{referral_id}"},
    )


def _response(msg: referral_in.Message, version: ReferralVersion, base: str) -> Json:
    """The servicerequest-response message (BARS-MessageDefinition-ServiceRequest-Response)."""
    now = stu3.instant(utcnow())
    header_id = str(uuid.uuid4())
    entries = referral_out.entries(version, base)
    answered = msg.header.get("id") or msg.bundle.get("id") or header_id
    header: Json = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"lastUpdated": now},
        "eventCoding": {"system": referral_in.EVENTS, "code": RESPONSE_EVENT},
        "source": {"endpoint": base},
        "response": {"identifier": str(answered), "code": "ok"},
        "focus": [{"reference": entries[0]["fullUrl"]}],
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now},
        "type": "message",
        "timestamp": now,
        "entry": [{"fullUrl": f"urn:uuid:{header_id}", "resource": header}, *entries],
    }


def _held_id(msg: referral_in.Message) -> str:
    """Which stored referral an update or cancel names: the ServiceRequest's id (as the
    response gave it), else its fullUrl."""
    found = str(msg.focus.get("id") or referral_key(msg.focus_url) or "")
    try:
        uuid.UUID(found)
    except ValueError:
        raise RecError(
            Rec.BAD_REQUEST,
            "value",
            "an update or cancel names the referral by ServiceRequest.id (a GUID)",
            expression="ServiceRequest.id",
        ) from None
    return found


def _expected(msg: referral_in.Message, current: ReferralVersion) -> int:
    """The version read (meta.versionId); a message without one changes the current one."""
    raw = str((msg.focus.get("meta") or {}).get("versionId") or "")
    if not raw:
        return current.version
    if not raw.isdigit() or len(raw) > 9:
        raise RecError(
            Rec.BAD_REQUEST,
            "value",
            "meta.versionId names no version",
            expression="ServiceRequest.meta.versionId",
        )
    return int(raw)


async def _linked(ex: BarsExchange, wanted: Referral, msg: referral_in.Message) -> Referral:
    """REFREQ01 names the sender's booking in supportingInfo: linked only if it is one
    stored here (a sender's own appointment id means nothing to this receiver)."""
    named = referral_in.appointment_named(msg.focus)
    if named and await ex.current.service.store.get(named) is not None:
        return wanted.model_copy(update={"appointment_id": named})
    return wanted


async def handle_servicerequest(request: web.Request, ex: BarsExchange, bundle: Json) -> Answer:
    """Create, update or revoke the referral the message carries."""
    msg = referral_in.message(bundle)
    if msg.reason not in referral_in.MESSAGE_REASONS:
        raise RecError(
            Rec.BAD_REQUEST,
            "value",
            f"MessageHeader.reason '{msg.reason[:20]}' is not one of new, update, delete",
            expression="MessageHeader.reason",
        )
    settings = request.config_dict[BARS]
    base = settings.service_root
    ctx = ex.context(settings.request_timeout_s)
    service = ex.current.service.referrals
    assert ex.service_id is not None
    requester = ReferralRequester(
        organisation=ex.identity.organisation, practitioner=ex.identity.practitioner
    )
    if msg.reason == "new":
        check_resources(msg)
        wanted = referral_in.referral(
            msg, service_id=ex.service_id, requester=requester, now=utcnow()
        )
        wanted = await _linked(ex, wanted, msg)
        try:
            version = await service.create(
                wanted, ctx, scope=ex.scope, client_request_id=ex.request_id
            )
        except DuplicateReferral as dup:
            raise _duplicate(
                base, dup.replay.referral_id, dup.replay.version, ex.request_id
            ) from None
        ex.outcome = "referral_created"
        return _response(msg, version, base), 200, {}
    current = await service.read(_held_id(msg))
    if current.referral.service_id != ex.service_id:
        raise RecError(
            Rec.NOT_FOUND, "not-found", f"ServiceRequest/{current.referral_id} does not exist here"
        )
    check_resources(msg)
    expected = _expected(msg, current)
    if msg.reason == "delete" or msg.focus.get("status") == ReferralStatus.REVOKED.value:
        version = await service.revoke(
            current.referral_id, expected, ctx, scope=ex.scope, client_request_id=ex.request_id
        )
        ex.outcome = "referral_revoked"
    else:
        changed = referral_in.referral(
            msg, service_id=ex.service_id, requester=requester, now=utcnow()
        )
        changed = await _linked(ex, changed, msg)
        version = await service.update(
            current.referral_id,
            expected,
            changed,
            ctx,
            scope=ex.scope,
            client_request_id=ex.request_id,
        )
        ex.outcome = "referral_updated"
    return _response(msg, version, base), 200, {}
