"""Appointments as the BaRS door shows them: each naming the stored referral linked to it.

The lookup is the one the STU3 door uses for ``incomingReferral``
(``gateway.doors.linked_referrals``); only the rendering differs (R4 ``basedOn``,
``ServiceRequest/<id>``).
"""

from __future__ import annotations

from gateway.bars import render
from gateway.bars.exchange import BarsExchange
from gateway.doors import linked_referrals
from gateway.store import AppointmentVersion, ReferralVersion

Json = render.Json


async def links(ex: BarsExchange, appointment_id: str) -> list[ReferralVersion]:
    """The current versions of the referrals linked to ``appointment_id``."""
    return await linked_referrals(ex, appointment_id)


async def appointment(ex: BarsExchange, version: AppointmentVersion) -> Json:
    """``version`` as a UK Core Appointment, basedOn its linked referral."""
    return render.appointment(version, await links(ex, version.appointment_id))


async def links_of(
    ex: BarsExchange, versions: list[AppointmentVersion]
) -> dict[str, list[ReferralVersion]]:
    """The referrals linked to each of ``versions``, by appointment id."""
    return {v.appointment_id: await links(ex, v.appointment_id) for v in versions}
