"""``GET /ServiceRequest/{id}`` and ``GET /ServiceRequest``: referrals held for the target."""

from __future__ import annotations

from aiohttp import web

from adapters.domain import Referral, utcnow
from gateway.bars import referral_out
from gateway.bars.errors import Rec, RecError
from gateway.bars.requests import answer, base, begin, guid, patient_nhs_number, self_url


async def read_referral(request: web.Request) -> web.Response:
    ex = begin(request, "read_referral")
    rid = guid(request.match_info["id"], "ServiceRequest.id")
    version = await ex.current.service.referrals.read(rid)
    if version.referral.service_id != ex.service_id:
        raise RecError(Rec.NOT_FOUND, "not-found", f"ServiceRequest/{rid} does not exist here")
    extra = {"ETag": f'W/"{version.version}"', "Location": f"{base(request)}/ServiceRequest/{rid}"}
    return await answer(referral_out.service_request(version, base(request)), ex, extra=extra)


async def search_referrals(request: web.Request) -> web.Response:
    """getReferralByPatient: the patient's referrals at the target service."""
    ex = begin(request, "search_referrals")
    nhs_number = patient_nhs_number(request)
    held = await ex.current.service.referrals.for_patient(nhs_number)
    found = [v for v in held if v.referral.service_id == ex.service_id]
    if wanted := request.query.get("ServiceRequest.identifier"):
        found = [v for v in found if _identified(v.referral, wanted)]
    body = referral_out.searchset(
        found, base=base(request), self_url=self_url(request), now=utcnow()
    )
    return await answer(body, ex)


def _identified(referral: Referral, token: str) -> bool:
    """A token ``system|value`` or ``value`` against the sender's identifier or our id."""
    system, _, value = token.rpartition("|")
    ident = referral.sender_identifier
    if value == referral.id:
        return True
    return ident is not None and ident.value == value and system in ("", ident.system)
