"""What every BaRS interaction does with its request: the header checks, the body, the
answer, the read-before-write version, ids in the URL and patient search parameters.

Public, so the REST handlers and the ``$process-message`` handlers are written alike.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from gateway.bars import headers, wire
from gateway.bars.errors import Rec, RecError
from gateway.bars.exchange import BARS, TARGETS, BarsExchange, exchange
from gateway.fhir import search as stu3_search
from gateway.http.exchange import SETTINGS
from gateway.store import AppointmentVersion

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
Json = dict[str, Any]


def begin(request: web.Request, interaction: str, *, target: bool = True) -> BarsExchange:
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


def base(request: web.Request) -> str:
    """The door's service root (``bars.service_root``)."""
    return request.config_dict[BARS].service_root


def self_url(request: web.Request) -> str:
    """This request's URL under the service root (a searchset's ``self`` link)."""
    return base(request) + request.path_qs[len(request.config_dict[BARS].base_path) :]


def timeout(request: web.Request) -> float:
    return request.config_dict[BARS].request_timeout_s


async def answer(
    resource: Json, ex: BarsExchange, *, status: int = 200, extra: dict[str, str] | None = None
) -> web.Response:
    body = await wire.dump_async(resource, ex.fmt)
    return web.Response(
        status=status, body=body, headers={"Content-Type": ex.fmt.content_type, **(extra or {})}
    )


def version_headers(request: web.Request, version: AppointmentVersion) -> dict[str, str]:
    url = f"{base(request)}/Appointment/{version.appointment_id}"
    return {
        "Location": url,
        "ETag": f'W/"{version.version}"',
        "Last-Modified": version.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


async def body(request: web.Request) -> Json:
    fmt = wire.body_format(request.headers.get("Content-Type"))
    return wire.load(await raw_body(request), fmt)


async def raw_body(request: web.Request) -> bytes:
    """The body's bytes, within the configured size."""
    limit = request.config_dict[SETTINGS].server.max_body_bytes
    try:
        raw = await request.content.read(limit + 1)
    except web.RequestPayloadError as exc:
        raise RecError(Rec.BAD_REQUEST, "invalid", "the body cannot be decoded as sent") from exc
    if len(raw) > limit:
        raise RecError(Rec.PAYLOAD_TOO_LARGE, "too-costly", f"body larger than {limit} bytes")
    return raw


def guid(value: str, what: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        raise RecError(
            Rec.BAD_REQUEST, "value", f"{what} must be a GUID", expression=what
        ) from None
    return value


def patient_nhs_number(request: web.Request) -> str:
    """``patient:identifier=<nhs-number system>|<NHS number>``, required."""
    if not any(request.query.getall(p, []) for p in stu3_search.PATIENT_PARAMS):
        raise RecError(
            Rec.BAD_REQUEST,
            "required",
            "search by patient:identifier=https://fhir.nhs.uk/Id/nhs-number|<NHS number>",
            expression="patient:identifier",
        )
    return stu3_search.patient_nhs_number(request.query)


def expected_version(request: web.Request, data: Json) -> int:
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


def read_version(request: web.Request, data: Json, current: AppointmentVersion) -> int:
    """The version read, which must be ``current``'s (else 409: read it again)."""
    expected = expected_version(request, data)
    if expected != current.version:
        # Checked again under the appointment's lock by the booking service (a race).
        raise RecError(
            Rec.CONFLICT,
            "conflict",
            f"version {expected} was read but the current version is {current.version}; "
            "read the appointment again",
            expression="Appointment.meta.versionId",
        )
    return expected
