"""A BaRS Appointment (UK Core R4) from a sender -> the canonical BookingRequest.

Two layers, as for STU3: structure with ``fhir.resources.R4B`` (R4B's Appointment,
Patient and DocumentReference are R4's for every element read here); then the
rules ours to enforce for a booking (Appointment-StandardPattern/Initial-Booking):
status ``booked``, one slot, start and end with offsets, a description, and the
patient as a contained UK Core Patient the one participant references (the
canonical booking needs the patient's demographics, which a bare
``Patient/<id>`` reference does not carry; docs/spec-choices.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from pydantic import ValidationError

from adapters.domain import BookingRequest, Patient
from adapters.nhs import NHS_NUMBER_SYSTEM
from gateway.bars import render
from gateway.bars.errors import Rec, RecError
from gateway.errors import ApiError
from gateway.fhir import render as stu3
from gateway.fhir._patient import patient as stu3_patient
from gateway.fhir.reason import reason_in

Json = dict[str, Any]


def invalid(expression: str, message: str, issue: str = "invariant") -> RecError:
    return RecError(Rec.BAD_REQUEST, issue, message, expression=expression)


def structural(data: Json) -> None:
    """The base R4 structure of an Appointment; 400 naming the first bad element."""
    if data.get("resourceType") != "Appointment":
        raise invalid(
            "resourceType",
            f"expected an Appointment resource, got '{str(data.get('resourceType'))[:40]}'",
            "structure",
        )
    try:
        Appointment.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "Appointment." + ".".join(str(p) for p in first["loc"])
        raise invalid(
            where, f"{where}: {first['msg']} ({exc.error_count()} problem(s) in all)", "structure"
        ) from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise invalid("Appointment", f"Appointment: {exc}", "structure") from exc


def instant(data: Json, key: str) -> datetime:
    where = f"Appointment.{key}"
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise invalid(where, f"{where} is required", "required")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise invalid(where, f"{where} must carry a UTC offset (BaRS: all dateTimes do)", "value")
    return parsed


def slot_key(data: Json) -> str:
    """The slot booked: ``Slot/<id>`` (the id this door serves slots under)."""
    slots = data.get("slot") or []
    if len(slots) != 1:
        raise invalid("Appointment.slot", "exactly one Appointment.slot is required", "required")
    ref = str((slots[0] or {}).get("reference") or "")
    kind, _, key = ref.rstrip("/").rpartition("/")
    if kind.rpartition("/")[2] != "Slot" or not key:
        raise invalid("Appointment.slot", "Appointment.slot must reference Slot/<id>", "value")
    return key


def _stu3_shaped(patient: Json) -> Json:
    """A UK Core Patient with its NHS number extension in the CareConnect spelling the
    shared Patient reader (gateway/fhir/_patient.py) checks."""
    ids = []
    for ident in patient.get("identifier") or []:
        exts = [
            {**e, "url": stu3.NHS_VERIFICATION_EXT}
            if isinstance(e, dict) and e.get("url") == render.NHS_VERIFICATION_EXT
            else e
            for e in ident.get("extension") or []
        ]
        ids.append({**ident, "extension": exts} if exts else ident)
    # UK Core lets a Patient carry local identifiers beside its NHS number (an NHS 111
    # report's patient usually does); the shared reader takes the NHS number alone.
    nhs = [i for i in ids if isinstance(i, dict) and i.get("system") == NHS_NUMBER_SYSTEM]
    if nhs and len(ids) > 1:
        ids = nhs[:1]
    return {**patient, "identifier": ids} if ids else patient


def _patient(data: Json) -> Patient:
    refs = [((p or {}).get("actor") or {}).get("reference") for p in data.get("participant") or []]
    contained = {
        f"#{c.get('id')}": c
        for c in data.get("contained") or []
        if isinstance(c, dict) and c.get("resourceType") == "Patient"
    }
    found = [contained[r] for r in refs if r in contained]
    if len(found) != 1:
        raise invalid(
            "Appointment.participant",
            "exactly one participant must reference a contained Patient ('#<id>')",
            "required",
        )
    try:
        return stu3_patient(_stu3_shaped(found[0]))
    except ApiError as exc:
        raise invalid(exc.expression or "Appointment.contained", exc.diagnostics, "value") from exc


def booking_request(data: Json) -> BookingRequest:
    """Check a POSTed Appointment and build the request (a client's ``id`` is not kept)."""
    structural(data)
    if data.get("status") != "booked":
        raise invalid("Appointment.status", "a new Appointment must have status 'booked'", "value")
    description = str(data.get("description") or "").strip()
    if not description:
        raise invalid("Appointment.description", "Appointment.description is required", "required")
    start, end = instant(data, "start"), instant(data, "end")
    if end <= start:
        raise invalid("Appointment.end", "Appointment.end must be after Appointment.start")
    based_on = data.get("basedOn") or []
    if len(based_on) > 1:
        raise invalid("Appointment.basedOn", "at most one basedOn (the ServiceRequest) is allowed")
    try:
        return BookingRequest(
            slot_id=slot_key(data),
            start=start,
            end=end,
            description=description,
            patient=_patient(data),
            referral_reference=(based_on[0] or {}).get("reference") if based_on else None,
            cross_border_reason=reason_in(data.get("reasonCode")),
        )
    except (ValueError, TypeError) as exc:
        raise invalid("Appointment", f"Appointment: {exc}") from exc


#: Cancel-Booking: status, and reasonCode (with R4's cancelationReason) may change;
#: meta/text/id are the server's.
_MAY_CHANGE = ("id", "meta", "text", "status", "reasonCode", "cancelationReason")


def normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def unchanged_part(data: Json) -> Json:
    """What a cancel may not change, normalised (instants by the moment they name)."""
    out: Json = normal(data)
    for key in _MAY_CHANGE:
        out.pop(key, None)
    return out


def same_instant(sent: Any, held: str) -> bool:
    """Whether a sent ``meta.lastUpdated`` names the held one's moment."""
    return bool(normal(sent) == normal(held))
