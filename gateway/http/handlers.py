"""The FHIR STU3 provider surface: one handler per interaction of the NHS Booking API."""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from aiohttp import web

from adapters.domain import BookingStatus, utcnow
from gateway.errors import ApiError, ErrorKind
from gateway.fhir import appointment as fhir_appointment
from gateway.fhir import bundle, formats, render, search
from gateway.fhir.capability import capability_statement
from gateway.fhir.referral_link import as_stored
from gateway.http.exchange import KEYS, SETTINGS, SLOT_PAGES, VERSION, Exchange, exchange
from gateway.http.middleware import fhir_response
from gateway.http.referral_links import linked, with_link
from gateway.security import Interaction, apply_ssp_policy, verify_bearer
from gateway.service import DuplicateRequest, Replay
from gateway.store import AppointmentVersion, ReferralVersion

log = structlog.get_logger("gateway.http")
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def _authorise(request: web.Request, interaction: Interaction) -> Exchange:
    """JWT (fs_authentication.md) and SSP headers (implementation_api.md) for one interaction."""
    ex = exchange(request)
    ex.interaction = interaction.name.lower()
    settings = request.app[SETTINGS]
    ex.claims = verify_bearer(
        request.headers.get("Authorization"),
        interaction=interaction,
        settings=settings.security.jwt,
        audiences={settings.server.service_root},
        now=time.time(),
        keys=request.app[KEYS],
    )
    problems = apply_ssp_policy(request.headers, interaction, settings.security.ssp)
    if problems:
        log.warning("ssp_headers_questionable", problems=problems)
    return ex


def _base(request: web.Request) -> str:
    return request.app[SETTINGS].server.service_root


def _self_url(request: web.Request) -> str:
    return _base(request) + request.path_qs[len(request.app[SETTINGS].server.base_path) :]


def _timeout(request: web.Request) -> float:
    return request.app[SETTINGS].server.request_timeout_s


def _version_headers(request: web.Request, version: AppointmentVersion) -> dict[str, str]:
    url = f"{_base(request)}/Appointment/{version.appointment_id}/_history/{version.version}"
    return {
        "Location": url,
        "Content-Location": url,
        "ETag": f'W/"{version.version}"',
        "Last-Modified": version.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


def _render(version: AppointmentVersion) -> dict[str, Any]:
    return render.appointment(
        version.booking,
        appointment_id=version.appointment_id,
        version=version.version,
        last_modified=version.last_modified,
    )


#: Content codings aiohttp undoes before the body is read (http_parser.py).
_DECODED = frozenset({"", "identity", "gzip", "deflate", "br", "zstd"})


def _content_coding(request: web.Request) -> None:
    # RFC 9110 8.4.1: a coding the server cannot undo MAY be 415; read raw, it would be
    # taken for JSON that was never sent.
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding not in _DECODED:
        raise ApiError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Encoding '{coding[:40]}' cannot be undone; send gzip, deflate or none",
        )


async def _body(request: web.Request) -> dict[str, Any]:
    fmt = formats.request_format(request.headers.get("Content-Type"))
    _content_coding(request)
    limit = request.app[SETTINGS].server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(ErrorKind.PAYLOAD_TOO_LARGE, f"body larger than {limit} bytes")
    try:
        raw = await request.content.read(limit + 1)
    except web.RequestPayloadError as exc:  # e.g. "Content-Encoding: gzip" on a plain body
        # The rest of the body is unread, so the connection cannot be reused: say so.
        raise ApiError(
            ErrorKind.BAD_REQUEST,
            "the body cannot be decoded as sent",
            headers={"Connection": "close"},
        ) from exc
    if len(raw) > limit:
        raise ApiError(ErrorKind.PAYLOAD_TOO_LARGE, f"body larger than {limit} bytes")
    return formats.load(raw, fmt)


async def metadata(request: web.Request) -> web.Response:
    ex = _authorise(request, Interaction.METADATA)
    statement = capability_statement(
        (a.capabilities for a in ex.current.adapters.values()),
        service_root=_base(request),
        version=request.app[VERSION],
        now=utcnow(),
        max_slots_per_page=request.app[SETTINGS].server.max_slots_per_page,
    )
    return fhir_response(statement, ex)


async def search_slots(request: web.Request) -> web.Response:
    ex = _authorise(request, Interaction.SLOT_SEARCH)
    now = utcnow()
    wanted = search.slot_search(request.query, now, request.app[SETTINGS].server.max_slots_per_page)
    ex.service_id = wanted.query.service_id
    found = await ex.current.service.search(wanted.query, ex.context(_timeout(request)))
    answer = await request.app[SLOT_PAGES].answer(
        found, wanted, base=_base(request), self_url=_self_url(request), now=now, fmt=ex.fmt
    )
    ex.slot_count = answer.slot_count
    return web.Response(body=answer.body, headers={"Content-Type": ex.fmt.content_type})


def _duplicate(request: web.Request, replay: Replay, client_id: str | None) -> ApiError:
    url = f"{_base(request)}/Appointment/{replay.appointment_id}/_history/{replay.version}"
    differs = "" if replay.same_body else " (this request's body differs from that one)"
    return ApiError(
        ErrorKind.DUPLICATE_REQUEST,
        f"X-Request-ID '{client_id}' was used before{differs}; it led to Appointment/"
        f"{replay.appointment_id}/_history/{replay.version} at {url}. No second booking was made.",
        headers={"Content-Location": url},
    )


async def book(request: web.Request) -> web.Response:
    ex = _authorise(request, Interaction.BOOK)
    data = await _body(request)
    wanted = fhir_appointment.booking_request(data)
    schedule_id = fhir_appointment.slot_schedule_id(data)
    home = await ex.current.service.locate(wanted.slot_id, schedule_id)
    ex.service_id = home.service_id if home else None
    try:
        version = await ex.current.service.book(
            wanted,
            ex.context(_timeout(request)),
            scope=ex.scope,
            client_request_id=ex.client_request_id,
            schedule_id=schedule_id,
        )
    except DuplicateRequest as dup:
        ex.appointment_id = dup.replay.appointment_id
        raise _duplicate(request, dup.replay, ex.client_request_id) from None
    ex.appointment_id = version.appointment_id
    ex.service_id = version.booking.service_id
    ex.outcome = "booked"
    resource = await with_link(ex, version, _render(version))
    return fhir_response(resource, ex, status=201, headers=_version_headers(request, version))


async def read(request: web.Request) -> web.Response:
    ex = _authorise(request, Interaction.READ)
    vid = request.match_info.get("vid")
    if vid is not None and not (vid.isdigit() and len(vid) <= 9):
        raise ApiError(ErrorKind.NOT_FOUND, f"version '{vid}' does not exist")
    ex.appointment_id = request.match_info["id"]
    version = await ex.current.service.read(ex.appointment_id, int(vid) if vid else None)
    resource = await with_link(ex, version, _render(version))
    return fhir_response(resource, ex, headers=_version_headers(request, version))


def _if_match(request: web.Request) -> int:
    raw = request.headers.get("If-Match")
    if raw is None:
        raise ApiError(
            ErrorKind.PRECONDITION_FAILED,
            'an update needs If-Match: W/"<versionId>" from the latest read',
        )
    match = _ETAG.match(raw)
    if match is None:
        raise ApiError(
            ErrorKind.VERSION_CONFLICT, f"If-Match '{raw}' names no version of this appointment"
        )
    return int(match.group(1))


def _cancel_check(
    data: dict[str, Any], appointment_id: str, referrals: list[ReferralVersion]
) -> Any:
    if data.get("id") not in (None, appointment_id):
        raise ApiError(
            ErrorKind.BAD_REQUEST,
            "the body's id does not match the URL",
            expression="Appointment.id",
        )
    if data.get("status") != "cancelled":
        raise ApiError(
            ErrorKind.UPDATE_NOT_ALLOWED,
            "the only update allowed is status -> 'cancelled'",
            expression="Appointment.status",
        )
    fhir_appointment.comparable(data)  # 400 for a malformed body, before any lock

    def check(current: AppointmentVersion) -> None:
        # cancel_an_appointment.md: no other element may be changed. The linked referral
        # may be named as read (ReferralRequest/<id>) or as booked.
        sent = fhir_appointment.comparable(
            as_stored(data, current.booking, referrals), trusted=True
        )
        if fhir_appointment.comparable(_render(current), trusted=True) != sent:
            raise ApiError(
                ErrorKind.UPDATE_NOT_ALLOWED,
                "elements other than status differ from the current version; "
                "only status may change to 'cancelled'",
            )

    return check


async def cancel(request: web.Request) -> web.Response:
    ex = _authorise(request, Interaction.CANCEL)
    ex.appointment_id = request.match_info["id"]
    expected = _if_match(request)
    referrals = await linked(ex, ex.appointment_id)
    check = _cancel_check(await _body(request), ex.appointment_id, referrals)
    try:
        version = await ex.current.service.cancel(
            ex.appointment_id,
            expected,
            ex.context(_timeout(request)),
            check,
            scope=ex.scope,
            client_request_id=ex.client_request_id,
        )
    except DuplicateRequest as dup:
        raise _duplicate(request, dup.replay, ex.client_request_id) from None
    ex.outcome = "cancelled"
    ex.service_id = version.booking.service_id
    resource = await with_link(ex, version, _render(version))
    return fhir_response(resource, ex, headers=_version_headers(request, version))


async def search_appointments(request: web.Request) -> web.Response:
    ex = _authorise(request, Interaction.SEARCH_APPOINTMENTS)
    nhs_number = search.patient_nhs_number(request.query)
    held = await ex.current.service.patient_appointments(nhs_number)
    # search_patient_appointments.md: the patient's current appointments; a cancelled
    # one (or one entered in error) is not one the patient still has.
    found = [v for v in held if v.booking.status is BookingStatus.BOOKED]
    body = bundle.appointment_bundle(
        found, base=_base(request), self_url=_self_url(request), now=utcnow()
    )
    for entry, version in zip(body.get("entry", []), found, strict=True):
        entry["resource"] = await with_link(ex, version, entry["resource"])
    return fhir_response(body, ex)


def add_routes(app: web.Application, base: str) -> None:
    app.router.add_get(f"{base}/metadata", metadata)
    app.router.add_get(f"{base}/Slot", search_slots)
    app.router.add_post(f"{base}/Appointment", book)
    app.router.add_get(f"{base}/Appointment", search_appointments)
    app.router.add_get(f"{base}/Appointment/{{id}}", read)
    app.router.add_put(f"{base}/Appointment/{{id}}", cancel)
    app.router.add_get(f"{base}/Appointment/{{id}}/_history/{{vid}}", read)
