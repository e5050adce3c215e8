"""The sender's journeys: search, book, read, cancel, refer, and sending a file.

Each returns the receiver's answer to its last request; a journey's own earlier
steps (the search before a booking, the read before a cancel: Find-Resource,
"read before write") are asked in JSON and kept in ``Sender.sent``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class
from lxml import etree

from adapters.bars_toolkit import messages, rewrite
from adapters.bars_toolkit.headers import ODS_SYSTEM, Target
from adapters.domain import (
    Address,
    ClinicalContent,
    Coding,
    Gender,
    HealthcareService,
    HumanName,
    Identifier,
    Patient,
    Referral,
    ReferralStatus,
    Schedule,
    Slot,
    SlotStatus,
    TriageOutcome,
)
from gateway.bars_sender._http import Answer, Json, Sender
from gateway.examples import EXAMPLE_NHS_NUMBER

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
DX_CODES = "https://fhir.nhs.uk/CodeSystem/pathways-dx-codes"
REFERRAL_IDS = "https://uec-gateway.example/Id/referral"


@dataclass(frozen=True, slots=True)
class Window:
    """Where a search looks: from ``lead`` after now, for ``days``."""

    lead: timedelta = timedelta(hours=1)
    days: float = 3.0

    def params(self, now: datetime) -> list[tuple[str, str]]:
        start = now + self.lead
        end = start + timedelta(days=self.days)
        return [
            ("status", "free"),
            ("start", "ge" + start.isoformat(timespec="seconds")),
            ("start", "le" + end.isoformat(timespec="seconds")),
            ("_include", "Slot:schedule"),
            ("_include", "Schedule:actor:HealthcareService"),
        ]


class JourneyError(Exception):
    """A journey cannot go on (no free slot, an earlier step refused): says why."""

    def __init__(self, message: str, answer: Answer | None = None) -> None:
        super().__init__(message)
        self.answer = answer


def example_patient(nhs_number: str = EXAMPLE_NHS_NUMBER) -> Patient:
    """The fictitious patient of the examples, with a test-range NHS number."""
    return Patient(
        nhs_number=nhs_number,
        nhs_number_verification="01",
        name=HumanName(family="Chalmers", given=("Peter",), prefix=("Mr",), use="official"),
        gender=Gender.MALE,
        birth_date=date(1974, 12, 25),
        address=Address(lines=("1 Trevelyan Square",), city="Leeds", postcode="LS1 6AE"),
    )


def envelope(ods: str, target: Target, receiver_ods: str) -> messages.Envelope:
    """From the sender ``ods`` to the service ``target`` (run by ``receiver_ods``), now."""
    return messages.Envelope(
        sender=messages.Party(
            ods_code=ods,
            endpoint=f"{ODS_SYSTEM}|{ods}",
            name="uec-gateway sender",
            software="uec-gateway bars-sender",
            version="1.0.0",
        ),
        receiver=messages.Party(ods_code=receiver_ods, endpoint=f"{target.system}|{target.value}"),
        now=datetime.now(UTC),
    )


def _body(sender: Sender, message: Json) -> Json | bytes:
    """A built message in the sender's format (FHIR XML through the R4 models)."""
    if not sender.xml:
        return message
    model = get_fhir_model_class(str(message["resourceType"])).model_validate(message)
    text = model.model_dump_xml()
    return text if isinstance(text, bytes) else str(text).encode()


async def search(sender: Sender, window: Window, *, xml: bool | None = None) -> Answer:
    """GET /Slot with the BaRS parameters (status, start ge/le, the _include set)."""
    return await sender.call("GET", "/Slot", params=window.params(datetime.now(UTC)), xml=xml)


def _resources(bundle: Json, kind: str) -> list[Json]:
    return [
        e["resource"] for e in bundle.get("entry") or [] if e["resource"]["resourceType"] == kind
    ]


def _by_reference(bundle: Json, reference: str) -> Json | None:
    for entry in bundle.get("entry") or []:
        res = entry["resource"]
        if entry.get("fullUrl") == reference or reference.endswith(
            f"{res['resourceType']}/{res.get('id')}"
        ):
            return dict(res)
    return None


@dataclass(frozen=True, slots=True)
class Bookable:
    """A free slot a search offered, with its Schedule and HealthcareService."""

    slot: Json
    schedule: Json
    service: Json | None


def bookables(bundle: Json, earliest: datetime) -> list[Bookable]:
    """Every free slot of a searchset starting at or after ``earliest``, with what it names."""
    out = []
    for slot in _resources(bundle, "Slot"):
        if slot.get("status") != "free" or datetime.fromisoformat(slot["start"]) < earliest:
            continue
        reference = slot["schedule"]["reference"]
        schedule = _by_reference(bundle, reference) or {"id": reference.rpartition("/")[2]}
        actors = [
            _by_reference(bundle, a.get("reference", "")) for a in schedule.get("actor") or []
        ]
        services = [a for a in actors if a and a["resourceType"] == "HealthcareService"]
        out.append(Bookable(slot, schedule, services[0] if services else None))
    return out


async def first_bookable(sender: Sender, window: Window) -> Bookable:
    """The first free slot of a search at least ``window.lead`` ahead."""
    answer = await search(sender, window, xml=False)
    if not answer.ok or not isinstance(answer.body, dict):
        raise JourneyError(f"the slot search was refused ({answer.status})", answer)
    found = bookables(answer.body, datetime.now(UTC) + window.lead)
    if not found:
        raise JourneyError("the search offered no free slot in the window", answer)
    return found[0]


def _patient_json(nhs_number: str) -> Json:
    """The example patient as a contained UK Core Patient (the REST pattern's Appointment)."""
    return {**messages.patient_resource(example_patient(nhs_number), datetime.now(UTC), "patient1")}


def appointment(slot: Json, nhs_number: str) -> Json:
    """A UK Core Appointment for ``slot`` (Appointment-StandardPattern/Initial-Booking)."""
    return {
        "resourceType": "Appointment",
        "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"]},
        "contained": [_patient_json(nhs_number)],
        "status": "booked",
        "description": "Reason for calling",
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "participant": [{"actor": {"reference": "#patient1"}, "status": "accepted"}],
    }


def booking_message(
    env: messages.Envelope, found: Bookable, nhs_number: str = EXAMPLE_NHS_NUMBER
) -> Json:
    """A booking-request message for the slot found (adapters.bars_toolkit.messages)."""
    slot, schedule = found.slot, found.schedule
    service_id = (found.service or {}).get("id") or env.receiver.endpoint.rpartition("|")[2]
    return messages.booking_request(
        env,
        slot=Slot(
            id=slot["id"],
            schedule_id=schedule["id"],
            identifier=slot["id"],
            status=SlotStatus.FREE,
            start=datetime.fromisoformat(slot["start"]),
            end=datetime.fromisoformat(slot["end"]),
        ),
        schedule=Schedule(id=schedule["id"], service_id=service_id),
        service=HealthcareService(
            id=service_id, name=(found.service or {}).get("name") or "service"
        ),
        who=example_patient(nhs_number),
        description="Reason for calling",
    )


async def book(
    sender: Sender, window: Window, *, message: bool, nhs_number: str, receiver_ods: str
) -> Answer:
    """Search, then book its first bookable slot: POST /Appointment or $process-message."""
    found = await first_bookable(sender, window)
    if not message:
        return await sender.call("POST", "/Appointment", body=appointment(found.slot, nhs_number))
    env = envelope(sender.ods, sender.target, receiver_ods)
    body = _body(sender, booking_message(env, found, nhs_number))
    return await sender.call(
        "POST", "/$process-message", body=body, use_context="a1t1|booking|booking-request|new"
    )


async def read(sender: Sender, appointment_id: str, *, xml: bool | None = None) -> Answer:
    return await sender.call("GET", f"/Appointment/{appointment_id}", xml=xml)


async def cancel(
    sender: Sender, appointment_id: str, *, message: bool, receiver_ods: str
) -> Answer:
    """Read the appointment, then cancel that version: PUT, or a cancellation message."""
    current = await read(sender, appointment_id, xml=False)
    if not current.ok or not isinstance(current.body, dict):
        raise JourneyError(f"the read before the cancel was refused ({current.status})", current)
    held: Json = current.body
    if not message:
        return await sender.call(
            "PUT", f"/Appointment/{appointment_id}", body={**held, "status": "cancelled"}
        )
    contained = [c for c in held.get("contained") or [] if c.get("resourceType") == "Patient"]
    if not contained:
        raise JourneyError("the appointment read names no Patient to cancel for", current)
    built = messages.cancellation(
        envelope(sender.ods, sender.target, receiver_ods), held, contained[0]
    )
    return await sender.call(
        "POST",
        "/$process-message",
        body=_body(sender, built),
        use_context="a1t1|booking|booking-request|delete",
    )


def referral(service_id: str, nhs_number: str, appointment_id: str | None = None) -> Referral:
    """A 111-to-ED referral of the example patient, triaged to DX02."""
    now = datetime.now(UTC)
    return Referral(
        id="new",
        version=1,
        status=ReferralStatus.ACTIVE,
        patient=example_patient(nhs_number),
        service_id=service_id,
        triage=TriageOutcome(
            disposition=Coding(
                system=DX_CODES,
                code="DX02",
                display="Attend Emergency Treatment Centre within 1 hour",
            ),
        ),
        clinical=ClinicalContent(patient_instruction="If the condition gets worse, call 111 back."),
        sender_identifier=Identifier(system=REFERRAL_IDS, value=str(uuid.uuid4())),
        appointment_id=appointment_id,
        category=Coding(system=messages.USE_CASES, code="a1t1", display="111 to ED"),
        authored=now,
    )


async def refer(
    sender: Sender, *, nhs_number: str, appointment_id: str | None, receiver_ods: str
) -> Answer:
    """A servicerequest-request built from a canonical referral."""
    built = messages.referral_request(
        envelope(sender.ods, sender.target, receiver_ods),
        referral(sender.target.value, nhs_number, appointment_id),
    )
    return await sender.call(
        "POST",
        "/$process-message",
        body=_body(sender, built),
        use_context="a1t1|referral|servicerequest-request|new",
    )


def load_file(path: Path) -> Json:
    """A FHIR JSON or XML file as JSON (XML read by the R4 models; no entities, no DTD)."""
    raw = path.read_bytes()
    if not raw.lstrip().startswith(b"<"):
        data: Json = json.loads(raw)
        return data
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )
    kind = etree.QName(etree.fromstring(raw, parser=parser)).localname
    model = get_fhir_model_class(kind).model_validate_xml(raw, xmlparser=parser)
    out: Json = json.loads(model.model_dump_json(exclude_none=True))
    return out


def _renumbered(message: Json, nhs_number: str) -> Json:
    text = json.dumps(message)
    for entry in message.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") != "Patient":
            continue
        for ident in resource.get("identifier") or []:
            if ident.get("system") == NHS_SYSTEM and ident.get("value"):
                text = text.replace(f'"{ident["value"]}"', f'"{nhs_number}"')
    out: Json = json.loads(text)
    return out


async def send(
    sender: Sender, path: Path, *, fresh: bool, window: Window, nhs_number: str | None
) -> Answer:
    """A file to $process-message: as it is, or fresh (and at a live slot if it books one)."""
    if not fresh and nhs_number is None:
        raw = await asyncio.to_thread(path.read_bytes)
        return await sender.call("POST", "/$process-message", body=raw)
    message = await asyncio.to_thread(load_file, path)
    if nhs_number is not None:
        message = _renumbered(message, nhs_number)
    if fresh:
        message = rewrite.fresh(message, datetime.now(UTC))
        if rewrite.has_slot(message):
            found = await first_bookable(sender, window)
            message = rewrite.move_to_slot(message, found.slot)
    return await sender.call("POST", "/$process-message", body=_body(sender, message))
