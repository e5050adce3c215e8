"""The referral linked to an appointment, for the STU3 door's Appointment renderings."""

from __future__ import annotations

from typing import Any

from gateway.doors import linked_referrals as linked
from gateway.fhir.referral_link import incoming_referral, with_incoming_referral
from gateway.http.exchange import Exchange
from gateway.store import AppointmentVersion

Json = dict[str, Any]
__all__ = ["linked", "with_link"]


async def with_link(ex: Exchange, version: AppointmentVersion, resource: Json) -> Json:
    """``resource`` (the STU3 rendering of ``version``) naming its linked referral."""
    found = await linked(ex, version.appointment_id)
    return with_incoming_referral(resource, incoming_referral(version.booking, found))
