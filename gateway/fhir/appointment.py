"""An Appointment from a consumer -> the canonical BookingRequest.

Two layers of checks, as book_an_appointment.md separates them:
1. structure: fhir.resources (STU3) validates the base resource; a malformed
   body is 400;
2. profile: CareConnect-Appointment-1 with the booking overrides of
   fs_fhir_overrides.md and appointment.md; fhir.resources does not know them,
   so they are ours; a violation is 422, an NHS number failing its check digit
   is 422 INVALID_NHS_NUMBER.

Choices (docs/spec-choices.md): contained resources are found by type, not
position; ``created`` is set by the provider and a consumer's value is
ignored; further participants beside the patient are allowed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fhir.resources.STU3.appointment import Appointment
from pydantic import ValidationError

from adapters.domain import (
    BookingRequest,
    SupportingDocument,
)
from gateway.errors import ApiError, ErrorKind
from gateway.fhir._fastcheck import STU3_CHECKER
from gateway.fhir._jsontypes import unknown_contained_type, wrong_json_type
from gateway.fhir._patient import patient, single, violation
from gateway.fhir.reason import reason_in

Json = dict[str, Any]


def _tolerate(data: Json) -> Json:
    # The standard's own booking example (appointment.md) omits participant.status,
    # which base STU3 requires; consumers copy that example, so it defaults to
    # 'accepted' rather than failing (docs/spec-choices.md).
    participants = data.get("participant")
    if not isinstance(participants, list):
        return data
    fixed = [
        {**p, "status": p.get("status") or "accepted"} if isinstance(p, dict) else p
        for p in participants
    ]
    return {**data, "participant": fixed}


def structural(data: Json) -> None:
    """Validate the base STU3 structure; 400 naming the first bad element.

    A body the quick plan check finds certainly valid is not parsed again
    (``_fastcheck``); any other is checked, and its error worded, by fhir.resources.
    """
    data = _tolerate(data)
    if data.get("resourceType") != "Appointment":
        raise ApiError(
            ErrorKind.INVALID_RESOURCE,
            f"expected an Appointment resource, got '{data.get('resourceType')}'",
            expression="resourceType",
        )
    if STU3_CHECKER.surely_valid(data, Appointment):
        return
    unknown = unknown_contained_type(data)
    if unknown:
        raise ApiError(ErrorKind.INVALID_RESOURCE, unknown, expression="Appointment.contained")
    try:
        parsed = Appointment.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "Appointment." + ".".join(str(p) for p in first["loc"])
        raise ApiError(
            ErrorKind.INVALID_RESOURCE,
            f"{where}: {first['msg']} ({exc.error_count()} problem(s) in all)",
            expression=where,
        ) from exc
    wrong = wrong_json_type(data, parsed, "Appointment")
    if wrong:
        # json.html: only integer/decimal elements are JSON numbers, only booleans true/false.
        raise ApiError(
            ErrorKind.INVALID_RESOURCE,
            f"{wrong}: a JSON number or boolean where FHIR JSON has a string (json.html)",
            expression=wrong,
        )


def _contained(data: Json) -> dict[str, Json]:
    by_type: dict[str, Json] = {}
    for index, item in enumerate(data.get("contained") or []):
        kind = item.get("resourceType")
        if kind in by_type:
            raise violation(f"Appointment.contained[{index}]", f"more than one contained {kind}")
        if not item.get("id"):
            raise violation(f"Appointment.contained[{index}].id", "contained resources need an id")
        by_type[str(kind)] = item
    for kind in ("DocumentReference", "Patient", "Slot"):
        if kind not in by_type:
            raise violation(
                "Appointment.contained", f"a contained {kind} is required (fs_fhir_overrides.md)"
            )
    return by_type


def _local_ref(ref: Json | None, target: Json, expression: str) -> None:
    wanted = f"#{target['id']}"
    if not ref or ref.get("reference") != wanted:
        raise violation(
            expression, f"{expression} must reference the contained resource '{wanted}'"
        )


def _instant(value: Any, expression: str) -> datetime:
    if not value:
        raise violation(expression, f"{expression} is required")
    if not isinstance(value, str):
        raise violation(expression, f"{expression} must be an instant written as a string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise violation(
            expression, f"{expression} must be an instant with a UTC offset (fs_times.md)"
        )
    return parsed


def _document(doc: Json) -> SupportingDocument:
    where = "Appointment.contained.DocumentReference"
    ident = single(doc, "identifier", f"{where}.identifier")
    codings = (doc.get("type") or {}).get("coding") or []
    if not codings or not codings[0].get("code"):
        raise violation(f"{where}.type", "DocumentReference.type needs a coding")
    content = doc.get("content") or []
    attachment = content[0].get("attachment", {}) if content else {}
    if not attachment.get("contentType"):
        raise violation(
            f"{where}.content", "DocumentReference.content.attachment.contentType is required"
        )
    indexed = doc.get("indexed")
    return SupportingDocument(
        identifier=str(ident.get("value") or ""),
        type_system=str(codings[0].get("system") or ""),
        type_code=str(codings[0]["code"]),
        type_display=codings[0].get("display"),
        content_type=str(attachment["contentType"]),
        language=attachment.get("language"),
        indexed=_instant(indexed, f"{where}.indexed") if indexed else None,
    )


def _slot_key(slot: Json) -> str:
    ident = single(slot, "identifier", "Appointment.contained.Slot.identifier")
    value = ident.get("value")
    if not value:
        raise violation(
            "Appointment.contained.Slot.identifier.value", "the slot identifier value is required"
        )
    return str(value)


def booking_request(data: Json) -> BookingRequest:
    """Check a POSTed Appointment against the profile and build the request."""
    try:
        return _booking_request(data)
    except (ValueError, TypeError) as exc:
        # A value the base STU3 types allow but the booking model cannot hold.
        raise ApiError(ErrorKind.PROFILE_VIOLATION, f"Appointment: {exc}") from exc


def _booking_request(data: Json) -> BookingRequest:
    structural(data)
    if "id" in data:
        raise violation(
            "Appointment.id",
            "Appointment.id must not be sent: the provider assigns it (appointment.md)",
        )
    if data.get("status") != "booked":
        raise violation("Appointment.status", "a new Appointment must have status 'booked'")
    contained = _contained(data)
    _local_ref(
        single(data, "supportingInformation", "Appointment.supportingInformation"),
        contained["DocumentReference"],
        "Appointment.supportingInformation",
    )
    _local_ref(single(data, "slot", "Appointment.slot"), contained["Slot"], "Appointment.slot")
    refs = [(p.get("actor") or {}).get("reference") for p in data.get("participant") or []]
    if refs.count(f"#{contained['Patient']['id']}") != 1:
        raise violation(
            "Appointment.participant",
            "exactly one participant must reference the contained Patient",
        )
    description = str(data.get("description") or "").strip()
    if not description:
        raise violation("Appointment.description", "Appointment.description is required")
    start = _instant(data.get("start"), "Appointment.start")
    end = _instant(data.get("end"), "Appointment.end")
    if end <= start:
        raise violation("Appointment.end", "Appointment.end must be after Appointment.start")
    referrals = data.get("incomingReferral") or []
    if len(referrals) > 1:
        raise violation("Appointment.incomingReferral", "at most one incomingReferral is allowed")
    return BookingRequest(
        slot_id=_slot_key(contained["Slot"]),
        start=start,
        end=end,
        description=description,
        patient=patient(contained["Patient"]),
        document=_document(contained["DocumentReference"]),
        referral_reference=referrals[0].get("reference") if referrals else None,
        cross_border_reason=reason_in(data.get("reason")),
    )


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def _normal(value: Any) -> Any:
    """Values compared by meaning: instants by the moment they name, empties dropped."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str) and _INSTANT.match(value):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            # Shaped like an instant but none (month 13): a plain string, compared as written
            # (a description may hold anything).
            return value
    return value


def comparable(data: Json, *, trusted: bool = False) -> Json:
    """The parts of an Appointment a cancel may not change, normalised for comparison.

    cancel_an_appointment.md: only ``status`` may change. Instants compare by
    the moment they name (an offset or 'Z' is the same instant, fs_times.md).
    An untrusted body is first checked against the STU3 structure (400 if
    malformed); our own rendering is ``trusted`` and skips that cost.
    """
    if not trusted:
        structural(data)
    normal: Json = _normal(_tolerate(data))
    for key in ("id", "meta", "text", "status"):
        normal.pop(key, None)
    return normal


def slot_schedule_id(data: Json) -> str | None:
    """The Schedule id the contained Slot points at (a routing hint), if any."""
    for item in data.get("contained") or []:
        if isinstance(item, dict) and item.get("resourceType") == "Slot":
            ref = str((item.get("schedule") or {}).get("reference") or "")
            return ref.rpartition("/")[2] or None
    return None
