"""The one middleware every request passes: ids, errors, headers, gzip, log line, audit.

- fs_xti.md: the client's X-Request-ID is echoed as X-Correlation-ID and the
  server adds its own X-Request-ID;
- implementation_api.md: ``Cache-Control: no-store``; gzip when asked;
- er_errorhandling.md: every 4xx/5xx is an OperationOutcome, never a stack trace.
"""

from __future__ import annotations

import hashlib

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.domain import utcnow
from gateway.audit import author
from gateway.doors import header_id, http_error_text, masked
from gateway.errors import ApiError, ErrorKind, store_unavailable
from gateway.fhir import formats
from gateway.fhir.outcome import operation_outcome
from gateway.http import _trace
from gateway.http.exchange import AUDIT, RUNTIME, SETTINGS, Exchange, exchange
from gateway.logs import mask_identifiers
from gateway.policy import scope as policy_scope
from gateway.policy.scope import Noted
from gateway.store import AuditEntry, StoreUnavailable
from gateway.trace import scope as trace_scope

log = structlog.get_logger("gateway.http")

_HTTP_ERRORS: dict[int, ErrorKind] = {
    404: ErrorKind.NOT_FOUND,
    405: ErrorKind.METHOD_NOT_ALLOWED,
    413: ErrorKind.PAYLOAD_TOO_LARGE,
    415: ErrorKind.UNSUPPORTED_MEDIA_TYPE,
}


def fhir_response(
    resource: dict[str, object],
    ex: Exchange,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = formats.dump(resource, ex.fmt)
    return web.Response(
        status=status, body=body, headers={"Content-Type": ex.fmt.content_type, **(headers or {})}
    )


def error_response(error: ApiError, ex: Exchange) -> web.Response:
    outcome = operation_outcome(error, outcome_id=ex.server_request_id)
    ex.outcome = error.kind.spec.spine_code
    # An error is always answered: formats.dump_outcome falls back rather than raise.
    body, fmt = formats.dump_outcome(outcome, ex.fmt)
    return web.Response(
        status=error.kind.spec.status,
        body=body,
        headers={"Content-Type": fmt.content_type, **(error.headers or {})},
    )


def _translate(exc: web.HTTPException, request: web.Request) -> ApiError:
    kind = _HTTP_ERRORS.get(exc.status, ErrorKind.BAD_REQUEST)
    return ApiError(kind, http_error_text(exc, request))


async def _answer(request: web.Request, handler: Handler, ex: Exchange) -> web.StreamResponse:
    try:
        ex.fmt = formats.response_format(request.query, request.headers)
        return await handler(request)
    except ApiError as error:
        return error_response(error, ex)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_translate(exc, request), ex)
    except StoreUnavailable:
        log.warning("store_unavailable")
        return error_response(store_unavailable(), ex)
    except Exception:
        # A genuine fault: logged with its type and traceback (no payloads), answered
        # with an OperationOutcome whose id finds this log line.
        log.exception("request_failed")
        return error_response(
            ApiError(
                ErrorKind.INTERNAL_ERROR, "internal error; quote the OperationOutcome id to support"
            ),
            ex,
        )


def _finish(request: web.Request, response: web.StreamResponse, ex: Exchange) -> None:
    response.headers["X-Request-ID"] = ex.server_request_id
    if ex.client_request_id:
        response.headers["X-Correlation-ID"] = ex.client_request_id
    response.headers["Cache-Control"] = "no-store"
    if ex.generation is not None:
        response.headers["X-Mapping-Version"] = ex.generation.version
    if "gzip" in request.headers.get("Accept-Encoding", "").lower() and isinstance(
        response, web.Response
    ):
        response.enable_compression(web.ContentCoding.gzip)


def _audited_service(ex: Exchange) -> str | None:
    """A slot search's service id as sent (``service=`` may hold anything, an NHS number
    included): kept if a route serves it, else only its hash. Other interactions set a
    service id the gateway itself found."""
    sid = ex.service_id
    if not sid or ex.interaction != "slot_search":
        return sid
    if ex.generation is not None and ex.generation.router.for_service(sid) is not None:
        return sid
    return "sha256:" + hashlib.sha256(sid.encode()).hexdigest()[:16]


def _audit(request: web.Request, status: int, ex: Exchange, decided: Noted) -> None:
    claims = ex.claims
    name, role = author(claims.practitioner if claims else None)
    entry = AuditEntry(
        at=utcnow(),
        interaction=ex.interaction,
        method=request.method,
        path=mask_identifiers(request.path),
        status=status,
        request_id=ex.server_request_id,
        correlation_id=masked(ex.client_request_id),
        trace_id=masked(ex.trace_id),
        consumer_asid=masked(ex.consumer_asid),
        organisation_ods=claims.organisation.ods_code if claims else None,
        organisation_name=claims.organisation.name if claims else None,
        device_id=claims.device.identifier.value if claims else None,
        practitioner_id=claims.practitioner.id if claims and claims.practitioner else None,
        practitioner_name=name,
        practitioner_role=role,
        appointment_id=masked(ex.appointment_id),
        outcome=ex.outcome,
        service_id=_audited_service(ex),
        slot_count=ex.slot_count,
        **policy_scope.audit_fields(decided),
    )
    request.app[AUDIT].record(entry)


def _header(request: web.Request, name: str) -> str | None:
    return header_id(request.headers.get(name))


@web.middleware
async def fhir_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if len(request.match_info.apps) > 1:
        # A door mounted as a sub-application (gateway/bars/) answers in its own terms.
        return await handler(request)
    ex = exchange(request)
    ex.client_request_id = _header(request, "X-Request-ID")
    ex.trace_id = _header(request, "Ssp-TraceID")
    ex.consumer_asid = _header(request, "Ssp-From")
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        request_id=ex.server_request_id, correlation_id=ex.client_request_id, trace_id=ex.trace_id
    )
    with trace_scope.opened() as tx, policy_scope.opened() as decided:
        async with request.app[RUNTIME].use() as generation:
            ex.generation = generation
            structlog.contextvars.bind_contextvars(mapping_version=generation.version)
            response = await _answer(request, handler, ex)
    _finish(request, response, ex)
    if request.path.startswith(request.app[SETTINGS].server.base_path):
        _audit(request, response.status, ex, decided)
        _trace.record(request, response, ex, tx)
    log.info(
        "request_handled",
        method=request.method,
        path=request.path,
        interaction=ex.interaction,
        status=response.status,
        outcome=ex.outcome,
        appointment_id=ex.appointment_id,
        organisation=ex.claims.organisation.ods_code if ex.claims else None,
        consumer_asid=ex.consumer_asid,
        duration_ms=ex.elapsed_ms(),
    )
    return response
