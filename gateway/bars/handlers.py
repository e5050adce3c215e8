"""The BaRS provider surface: one handler per interaction, listed in ``INTERACTIONS``.

Every handler first checks the headers (``_begin``): the transaction ids, the
Accept version, the target service and the sender's identity. The booking
service, router, ledger and adapters are the STU3 door's, so an appointment
booked at either door is one appointment with one version history.
``$process-message`` and ServiceRequest are further rows of ``INTERACTIONS``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.domain import BookingRequest, Referral, SlotQuery, SlotStatus, utcnow
from gateway.bars import appointment as bars_appointment
from gateway.bars import headers, messaging, referral_out, render, search, wire
from gateway.bars.capability import capability_statement
from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BARS, TARGETS, BarsExchange, exchange
from gateway.fhir import search as stu3_search
from gateway.http.exchange import SETTINGS, VERSION
from gateway.routing import SlotHome
from gateway.service import DuplicateRequest, Replay
from gateway.store import AppointmentVersion

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
Json = dict[str, Any]


def _begin(request: web.Request, interaction: str, *, target: bool = True) -> BarsExchange:
    """The headers every interaction checks, in the order a sender would fix them."""
    ex = exchange(request)
    ex.interaction = interaction
    bars = request.config_dict[BARS]
    # First, so that every later error is written in the format asked for.
    ex.fmt = headers.negotiate(request.headers.get("Accept"), bars.core_major_versions)
    ex.request_id, ex.correlation_id = headers.request_ids(request.headers)
    if target or request.headers.get(headers.TARGET):
        wanted = headers.target(request.headers)
        ex.service_id = request.config_dict[TARGETS].service_for(wanted, ex.current.router)
    if target or request.headers.get(headers.ORGANISATION):
        ex.identity = headers.identity(request.headers)
    return ex


def _base(request: web.Request) -> str:
    return request.config_dict[BARS].service_root


def _timeout(request: web.Request) -> float:
    return request.config_dict[BARS].request_timeout_s


async def _answer(
    resource: Json, ex: BarsExchange, *, status: int = 200, extra: dict[str, str] | None = None
) -> web.Response:
    body = await wire.dump_async(resource, ex.fmt)
    return web.Response(
        status=status, body=body, headers={"Content-Type": ex.fmt.content_type, **(extra or {})}
    )


def _version_headers(request: web.Request, version: AppointmentVersion) -> dict[str, str]:
    url = f"{_base(request)}/Appointment/{version.appointment_id}"
    return {
        "Location": url,
        "ETag": f'W/"{version.version}"',
        "Last-Modified": version.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


async def _body(request: web.Request) -> Json:
    fmt = wire.body_format(request.headers.get("Content-Type"))
    limit = request.config_dict[SETTINGS].server.max_body_bytes
    try:
        raw = await request.content.read(limit + 1)
    except web.RequestPayloadError as exc:
        raise RecError(Rec.BAD_REQUEST, "invalid", "the body cannot be decoded as sent") from exc
    if len(raw) > limit:
        raise RecError(Rec.PAYLOAD_TOO_LARGE, "too-costly", f"body larger than {limit} bytes")
    return wire.load(raw, fmt)


def _guid(value: str, what: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        raise RecError(
            Rec.BAD_REQUEST, "value", f"{what} must be a GUID", expression=what
        ) from None
    return value


async def metadata(request: web.Request) -> web.Response:
    ex = _begin(request, "metadata", target=False)
    adapters = list(ex.current.adapters.values())
    if ex.service_id is not None:
        route = ex.current.router.for_service(ex.service_id)
        adapters = [route.adapter] if route else []
    statement = capability_statement(
        (a.capabilities for a in adapters),
        service_root=_base(request),
        software_version=request.config_dict[VERSION],
        core_version=request.config_dict[BARS].core_version,
        now=utcnow(),
        messages=[d.url for e in messaging.EVENTS.values() for d in e.definitions],
    )
    return await _answer(statement, ex)


async def search_slots(request: web.Request) -> web.Response:
    ex = _begin(request, "slot_search")
    assert ex.service_id is not None
    now = utcnow()
    most = request.config_dict[SETTINGS].server.max_slots_per_page
    wanted, honoured = search.slot_search(request.query, ex.service_id, now, most)
    found = await ex.current.service.search(wanted.query, ex.context(_timeout(request)))
    page = wanted.page(found)
    ex.slot_count = len(page.result.slots)
    self_url = search.self_url(_base(request), request.query, honoured)
    body = render.slot_bundle(
        page.result,
        honoured,
        base=_base(request),
        self_url=self_url,
        now=now,
        total=page.total,
        next_url=wanted.next_url(self_url, page.next_start) if page.next_start else None,
    )
    return await _answer(body, ex)


def _duplicate(request: web.Request, replay: Replay, request_id: str | None) -> RecError:
    url = f"{_base(request)}/Appointment/{replay.appointment_id}"
    differs = "" if replay.same_body else " (this request's body differs from that one)"
    return RecError(
        Rec.CONFLICT,
        "duplicate",
        f"This message has been recognised as having already been successfully processed: "
        f"X-Request-Id '{request_id}' made Appointment/{replay.appointment_id} version "
        f"{replay.version}{differs}. Nothing was done again.",
        headers={"Content-Location": url},
    )


async def _find_slot(
    request: web.Request, ex: BarsExchange, wanted: BookingRequest
) -> SlotHome | None:
    """Where a slot the router has not seen lives (after a restart, say): the target
    service's slots at that time are searched, which teaches the router, so a slot of
    another service is never booked in the target's name."""
    assert ex.service_id is not None
    query = SlotQuery(
        service_id=ex.service_id,
        statuses=frozenset(SlotStatus),
        start_from=wanted.start,
        start_to=wanted.start,
    )
    await ex.current.service.search(query, ex.context(_timeout(request)))
    return ex.current.router.for_slot(wanted.slot_id, None)


async def _check_slot(request: web.Request, ex: BarsExchange, wanted: BookingRequest) -> None:
    """The slot must be the target service's (a resend is the ledger's to answer)."""
    service = ex.current.service
    if ex.request_id and await service.store.find_claim(ex.scope, ex.request_id):
        return
    home = service.router.for_slot(wanted.slot_id, None)
    if home is None or home.service_id is None:
        home = await _find_slot(request, ex, wanted)
    if home is None:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "not-found",
            f"service {ex.service_id} has no such slot starting at the Appointment's start; "
            "search for slots again",
            expression="Appointment.slot",
        )
    if home.service_id != ex.service_id:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            "the slot belongs to another service than NHSD-Target-Identifier names",
            expression="Appointment.slot",
        )


async def place_booking(
    request: web.Request, ex: BarsExchange, wanted: BookingRequest
) -> AppointmentVersion:
    """Book ``wanted`` for the target service through the shared booking service and
    ledger (both the REST pattern and ``$process-message`` book here)."""
    await _check_slot(request, ex, wanted)
    try:
        version = await ex.current.service.book(
            wanted,
            ex.context(_timeout(request)),
            scope=ex.scope,
            client_request_id=ex.request_id,
            schedule_id=None,
        )
    except DuplicateRequest as dup:
        ex.appointment_id = dup.replay.appointment_id
        raise _duplicate(request, dup.replay, ex.request_id) from None
    ex.appointment_id = version.appointment_id
    ex.outcome = "booked"
    return version


async def book(request: web.Request) -> web.Response:
    ex = _begin(request, "book")
    wanted = bars_appointment.booking_request(await _body(request))
    version = await place_booking(request, ex, wanted)
    headers_ = _version_headers(request, version)
    return await _answer(render.appointment(version), ex, status=201, extra=headers_)


async def _held(request: web.Request, ex: BarsExchange) -> AppointmentVersion:
    """The appointment in the URL, if it is the target service's (else 404, as unknown)."""
    return await held_appointment(ex, request.match_info["id"])


async def held_appointment(ex: BarsExchange, appointment_id: str) -> AppointmentVersion:
    """Appointment ``appointment_id``, if it is the target service's (else 404, as unknown)."""
    ex.appointment_id = _guid(appointment_id, "Appointment.id")
    version = await ex.current.service.read(ex.appointment_id)
    if version.booking.service_id != ex.service_id:
        raise RecError(
            Rec.NOT_FOUND, "not-found", f"Appointment/{ex.appointment_id} does not exist here"
        )
    return version


async def read(request: web.Request) -> web.Response:
    ex = _begin(request, "read")
    version = await _held(request, ex)
    return await _answer(render.appointment(version), ex, extra=_version_headers(request, version))


async def search_appointments(request: web.Request) -> web.Response:
    ex = _begin(request, "search_appointments")
    if not any(request.query.getall(p, []) for p in stu3_search.PATIENT_PARAMS):
        raise RecError(
            Rec.BAD_REQUEST,
            "required",
            "search by patient:identifier=https://fhir.nhs.uk/Id/nhs-number|<NHS number>",
            expression="patient:identifier",
        )
    nhs_number = stu3_search.patient_nhs_number(request.query)
    held = await ex.current.service.patient_appointments(nhs_number)
    found = [v for v in held if v.booking.service_id == ex.service_id]
    self_url = _base(request) + request.path_qs[len(request.config_dict[BARS].base_path) :]
    body = render.appointment_bundle(found, base=_base(request), self_url=self_url, now=utcnow())
    return await _answer(body, ex)


def _expected_version(request: web.Request, data: Json) -> int:
    """Read before write (Appointment-StandardPattern): the version the sender read."""
    raw = request.headers.get("If-Match")
    from_header = None
    if raw is not None:
        match = _ETAG.match(raw)
        if match is None:
            raise RecError(Rec.BAD_REQUEST, "value", f"If-Match '{raw[:40]}' names no version")
        from_header = int(match.group(1))
    meta = data.get("meta") or {}
    body_raw = str(meta.get("versionId") or "")
    from_body = int(body_raw) if body_raw.isdigit() and len(body_raw) <= 9 else None
    if body_raw and from_body is None:
        raise RecError(
            Rec.BAD_REQUEST,
            "value",
            "meta.versionId names no version",
            expression="Appointment.meta.versionId",
        )
    if from_header is not None and from_body is not None and from_header != from_body:
        raise RecError(
            Rec.BAD_REQUEST,
            "invariant",
            "If-Match and meta.versionId name different versions",
            expression="Appointment.meta.versionId",
        )
    found = from_header if from_header is not None else from_body
    if found is None:
        raise RecError(
            Rec.BAD_REQUEST,
            "required",
            "read before write: send the meta.versionId (or If-Match) of the version you read",
            expression="Appointment.meta.versionId",
        )
    return found


def _cancel_check(data: Json) -> Callable[[AppointmentVersion], None]:
    incoming = bars_appointment.unchanged_part(data)
    sent_updated = (data.get("meta") or {}).get("lastUpdated")

    def check(current: AppointmentVersion) -> None:
        rendered = render.appointment(current)
        current_updated = rendered["meta"]["lastUpdated"]
        if sent_updated and not bars_appointment.same_instant(sent_updated, current_updated):
            raise RecError(
                Rec.CONFLICT,
                "conflict",
                "meta.lastUpdated is not the current version's; read the appointment again",
                expression="Appointment.meta.lastUpdated",
            )
        if bars_appointment.unchanged_part(rendered) != incoming:
            # Cancel-Booking: status and reasonCode may change, "no other element".
            raise RecError(
                Rec.UNPROCESSABLE_ENTITY,
                "business-rule",
                "only status (to 'cancelled') and reasonCode may change; "
                "other elements differ from the current version",
            )

    return check


async def cancel_booking(
    request: web.Request,
    ex: BarsExchange,
    current: AppointmentVersion,
    expected: int,
    check: Callable[[AppointmentVersion], None],
) -> AppointmentVersion:
    """Cancel ``current`` at version ``expected`` through the shared booking service
    (``check`` runs under the appointment's lock against the version it holds)."""
    try:
        version = await ex.current.service.cancel(
            current.appointment_id,
            expected,
            ex.context(_timeout(request)),
            check,
            scope=ex.scope,
            client_request_id=ex.request_id,
        )
    except DuplicateRequest as dup:
        raise _duplicate(request, dup.replay, ex.request_id) from None
    ex.outcome = "cancelled"
    return version


async def update(request: web.Request) -> web.Response:
    ex = _begin(request, "cancel")
    data = await _body(request)
    bars_appointment.structural(data)
    current = await _held(request, ex)
    if data.get("id") != current.appointment_id:
        raise RecError(
            Rec.BAD_REQUEST,
            "invariant",
            "the body's id must match the URL",
            expression="Appointment.id",
        )
    expected = _expected_version(request, data)
    if expected != current.version:
        # Checked again under the appointment's lock by the booking service (a race).
        raise RecError(
            Rec.CONFLICT,
            "conflict",
            f"version {expected} was read but the current version is {current.version}; "
            "read the appointment again",
            expression="Appointment.meta.versionId",
        )
    if data.get("status") != "cancelled":
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "business-rule",
            "the only update served is cancellation: status -> 'cancelled'",
            expression="Appointment.status",
        )
    version = await cancel_booking(request, ex, current, expected, _cancel_check(data))
    return await _answer(render.appointment(version), ex, extra=_version_headers(request, version))


async def read_referral(request: web.Request) -> web.Response:
    ex = _begin(request, "read_referral")
    rid = _guid(request.match_info["id"], "ServiceRequest.id")
    version = await ex.current.service.referrals.read(rid)
    if version.referral.service_id != ex.service_id:
        raise RecError(Rec.NOT_FOUND, "not-found", f"ServiceRequest/{rid} does not exist here")
    extra = {"ETag": f'W/"{version.version}"', "Location": f"{_base(request)}/ServiceRequest/{rid}"}
    return await _answer(referral_out.service_request(version, _base(request)), ex, extra=extra)


async def search_referrals(request: web.Request) -> web.Response:
    """getReferralByPatient: the patient's referrals at the target service."""
    ex = _begin(request, "search_referrals")
    if not any(request.query.getall(p, []) for p in stu3_search.PATIENT_PARAMS):
        raise RecError(
            Rec.BAD_REQUEST,
            "required",
            "search by patient:identifier=https://fhir.nhs.uk/Id/nhs-number|<NHS number>",
            expression="patient:identifier",
        )
    nhs_number = stu3_search.patient_nhs_number(request.query)
    held = await ex.current.service.referrals.for_patient(nhs_number)
    found = [v for v in held if v.referral.service_id == ex.service_id]
    if wanted := request.query.get("ServiceRequest.identifier"):
        found = [v for v in found if _identified(v.referral, wanted)]
    self_url = _base(request) + request.path_qs[len(request.config_dict[BARS].base_path) :]
    body = referral_out.searchset(found, base=_base(request), self_url=self_url, now=utcnow())
    return await _answer(body, ex)


def _identified(referral: Referral, token: str) -> bool:
    """A token ``system|value`` or ``value`` against the sender's identifier or our id."""
    system, _, value = token.rpartition("|")
    ident = referral.sender_identifier
    if value == referral.id:
        return True
    return ident is not None and ident.value == value and system in ("", ident.system)


async def _unmatched(request: web.Request) -> web.Response:
    """A path or method this door does not serve: 405 if the path is served, else 404."""
    exchange(request).interaction = "unknown"
    for resource in request.app.router.resources():
        if any(route.handler is _unmatched for route in resource):
            continue
        _, allowed = await resource.resolve(request)
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


async def _process_message(request: web.Request) -> web.Response:
    return await messaging.process_message(request)


async def _message_definitions(request: web.Request) -> web.Response:
    return await messaging.search_definitions(request)


@dataclass(frozen=True, slots=True)
class InteractionRoute:
    name: str
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


#: Every interaction the door serves; $process-message and ServiceRequest add rows.
INTERACTIONS: tuple[InteractionRoute, ...] = (
    InteractionRoute("metadata", "GET", "/metadata", metadata),
    InteractionRoute("slot_search", "GET", "/Slot", search_slots),
    InteractionRoute("book", "POST", "/Appointment", book),
    InteractionRoute("search_appointments", "GET", "/Appointment", search_appointments),
    InteractionRoute("read", "GET", "/Appointment/{id}", read),
    InteractionRoute("update", "PUT", "/Appointment/{id}", update),
    InteractionRoute("process_message", "POST", "/$process-message", _process_message),
    InteractionRoute("message_definitions", "GET", "/MessageDefinition", _message_definitions),
    InteractionRoute("search_referrals", "GET", "/ServiceRequest", search_referrals),
    InteractionRoute("read_referral", "GET", "/ServiceRequest/{id}", read_referral),
)


def add_routes(app: web.Application) -> None:
    for row in INTERACTIONS:
        app.router.add_route(row.method, row.path, row.handler)
    app.router.add_route("*", "/{tail:.*}", _unmatched)
