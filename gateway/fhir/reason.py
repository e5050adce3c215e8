"""The out-of-area reason of a booking (gateway/policy/), as either FHIR door carries it:
a coding of ``REASON_SYSTEM`` in Appointment.reason (STU3) or Appointment.reasonCode (R4)."""

from __future__ import annotations

from gateway.policy.model import REASON_SYSTEM


def reason_in(concepts: object) -> str | None:
    """The out-of-area reason code among FHIR CodeableConcepts, if one is there."""
    if not isinstance(concepts, list):
        return None
    for concept in concepts:
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and coding.get("system") == REASON_SYSTEM:
                code = coding.get("code")
                return str(code) if code else None
    return None
