"""Referrals through the STU3 door: ``GET /ReferralRequest/{id}[/_history/{vid}]`` and the
patient's referrals, ``GET /ReferralRequest?patient:identifier=…``.

The referrals are those the gateway stores (BaRS ``servicerequest-request``, or
linked to STU3 bookings), rendered as CareConnect STU3 ReferralRequests
(``gateway.fhir.referral``). Same security as an appointment read: the JWT's
``patient/appointment.read`` or ``.write`` scope and the SSP headers.
"""

from __future__ import annotations

from aiohttp import web

from adapters.domain import utcnow
from gateway.errors import ApiError, ErrorKind
from gateway.fhir import referral as fhir_referral
from gateway.fhir import search
from gateway.http.handlers import _authorise, _base, _self_url
from gateway.http.middleware import fhir_response
from gateway.security import Interaction
from gateway.store import ReferralVersion


def _headers(request: web.Request, version: ReferralVersion) -> dict[str, str]:
    url = f"{_base(request)}/ReferralRequest/{version.referral_id}/_history/{version.version}"
    return {
        "Content-Location": url,
        "ETag": f'W/"{version.version}"',
        "Last-Modified": version.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


async def read_referral(request: web.Request) -> web.Response:
    """read and vread: the referral's current version, or the one named."""
    ex = _authorise(request, Interaction.READ_REFERRAL)
    referral_id = request.match_info["id"]
    vid = request.match_info.get("vid")
    wanted = f"ReferralRequest/{referral_id}" + (f"/_history/{vid}" if vid else "")
    if vid is not None and not (vid.isdigit() and len(vid) <= 9):
        raise ApiError(ErrorKind.NOT_FOUND, f"{wanted} does not exist")
    try:
        version = await ex.current.service.referrals.read(referral_id, int(vid) if vid else None)
    except ApiError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            raise ApiError(ErrorKind.NOT_FOUND, f"{wanted} does not exist") from None
        raise
    ex.service_id = version.referral.service_id
    ex.appointment_id = version.referral.appointment_id
    resource = fhir_referral.referral_request(version)
    return fhir_response(resource, ex, headers=_headers(request, version))


async def search_referrals(request: web.Request) -> web.Response:
    """The patient's referrals at every service here, revoked ones included, oldest first."""
    ex = _authorise(request, Interaction.SEARCH_REFERRALS)
    nhs_number = search.patient_nhs_number(request.query)
    found = await ex.current.service.referrals.for_patient(nhs_number)
    body = fhir_referral.searchset(
        found, base=_base(request), self_url=_self_url(request), now=utcnow()
    )
    return fhir_response(body, ex)


def add_routes(app: web.Application, base: str) -> None:
    app.router.add_get(f"{base}/ReferralRequest", search_referrals)
    app.router.add_get(f"{base}/ReferralRequest/{{id}}", read_referral)
    app.router.add_get(f"{base}/ReferralRequest/{{id}}/_history/{{vid}}", read_referral)
