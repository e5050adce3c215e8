"""An STU3 Appointment's ``incomingReferral``: the stored referral linked to it, readable here.

``appointment.md``: incomingReferral (0..1) is "the ReferralRequest provided as
information". When a referral stored by the gateway (sent over BaRS, or named
by the booking) is linked to the appointment, the Appointment names it as
``ReferralRequest/<id>``, which this door serves; otherwise the consumer's own
reference is kept as sent. A link is the referral's change, not the
appointment's, so it does not make a new appointment version; a cancel that
sends back either reference is not a change of the appointment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.domain import FINAL_REFERRAL_STATUSES, Booking
from gateway.store import ReferralVersion

Json = dict[str, Any]
_FIELD = "incomingReferral"
#: Elements an Appointment lists before incomingReferral (STU3 order), for a tidy rendering.
_BEFORE = ("supportingInformation", "description", "status", "contained", "meta", "id")


def linked_id(linked: Sequence[ReferralVersion]) -> str | None:
    """The id of the referral an appointment names, of those linked to it, if any.

    Both doors name one (STU3 incomingReferral and R4 basedOn as we fill it are
    0..1): a live referral (not revoked, completed or in error) before a final
    one, then the latest changed.
    """
    if not linked:
        return None
    best = max(
        linked,
        key=lambda v: (v.referral.status not in FINAL_REFERRAL_STATUSES, v.last_modified),
    )
    return best.referral_id


def linked_reference(linked: Sequence[ReferralVersion]) -> str | None:
    """``ReferralRequest/<id>`` of the referral linked to an appointment, if any."""
    found = linked_id(linked)
    return f"ReferralRequest/{found}" if found else None


def incoming_referral(booking: Booking, linked: Sequence[ReferralVersion]) -> str | None:
    """What the Appointment's incomingReferral names: the linked referral, else the booking's."""
    return linked_reference(linked) or booking.referral_reference


def with_incoming_referral(resource: Json, reference: str | None) -> Json:
    """``resource`` (an STU3 Appointment) naming ``reference`` as its incomingReferral."""
    if reference is None:
        return {k: v for k, v in resource.items() if k != _FIELD}
    out: Json = {}
    placed = False
    anchor = next((k for k in _BEFORE if k in resource), None)
    for key, value in resource.items():
        if key == _FIELD:
            continue
        out[key] = value
        if key == anchor:
            out[_FIELD] = [{"reference": reference}]
            placed = True
    if not placed:
        out[_FIELD] = [{"reference": reference}]
    return out


def accepted_references(booking: Booking, linked: Sequence[ReferralVersion]) -> set[str]:
    """incomingReferral values a cancel may send back unchanged: either reading of the link."""
    return {r for r in (booking.referral_reference, linked_reference(linked)) if r}


def as_stored(data: Json, booking: Booking, linked: Sequence[ReferralVersion]) -> Json:
    """A cancel body whose incomingReferral names the link either way, as the booking holds it."""
    refs = data.get(_FIELD)
    if not (isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], dict)):
        return data
    if refs[0].get("reference") not in accepted_references(booking, linked):
        return data
    return with_incoming_referral(data, booking.referral_reference)
