"""The referral linked to an appointment, for the STU3 door's Appointment renderings."""

from __future__ import annotations

from typing import Any

from gateway.fhir.referral_link import incoming_referral, with_incoming_referral
from gateway.http.exchange import Exchange
from gateway.store import AppointmentVersion, ReferralVersion

Json = dict[str, Any]


async def linked(ex: Exchange, appointment_id: str) -> list[ReferralVersion]:
    """The current versions of the referrals linked to ``appointment_id``."""
    return await ex.current.service.referrals.for_appointment(appointment_id)


async def with_link(ex: Exchange, version: AppointmentVersion, resource: Json) -> Json:
    """``resource`` (the STU3 rendering of ``version``) naming its linked referral."""
    found = await linked(ex, version.appointment_id)
    return with_incoming_referral(resource, incoming_referral(version.booking, found))
