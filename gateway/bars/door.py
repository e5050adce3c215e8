"""The BaRS door as an aiohttp sub-application, with the one middleware its requests pass.

The middleware binds the gateway's current generation (routes, adapters, booking
service) for the whole request, turns every failure into an R4 OperationOutcome
from the door's error table, mirrors X-Request-Id and X-Correlation-Id
(api spec: "mirrored back"), and writes one log line and one audit row (ids only).
"""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.domain import utcnow
from gateway.bars import _trace, handlers, wire
from gateway.bars.errors import Rec, RecError, from_api_error, operation_outcome
from gateway.bars.exchange import BARS, TARGETS, BarsExchange, exchange
from gateway.bars.targets import Targets, load_targets, mount_problem
from gateway.config import Settings
from gateway.doors import header_id, http_error_text, masked
from gateway.errors import ApiError, store_unavailable
from gateway.fhir import formats
from gateway.fhir.render import instant
from gateway.http.exchange import AUDIT, RUNTIME
from gateway.logs import mask_identifiers
from gateway.policy import scope as policy_scope
from gateway.policy.scope import Noted
from gateway.store import AuditEntry, StoreUnavailable
from gateway.trace import scope as trace_scope

log = structlog.get_logger("gateway.bars")

_HTTP: dict[int, tuple[Rec, str]] = {
    404: (Rec.NOT_FOUND, "not-found"),
    405: (Rec.METHOD_NOT_ALLOWED, "not-supported"),
    413: (Rec.PAYLOAD_TOO_LARGE, "too-costly"),
}


def error_response(error: RecError, ex: BarsExchange) -> web.Response:
    ex.outcome = error.rec.spec.code
    outcome = operation_outcome(error, outcome_id=ex.outcome_id, now=instant(utcnow()))
    fmt = ex.fmt
    try:
        body = wire.dump(outcome, fmt)
    except (ValueError, TypeError):
        # Text XML cannot hold: the error is still answered, in JSON.
        fmt = formats.WireFormat.JSON
        body = wire.dump(outcome, fmt)
    return web.Response(
        status=error.rec.spec.status,
        body=body,
        headers={"Content-Type": fmt.content_type, **error.headers},
    )


def _translated(exc: web.HTTPException, request: web.Request) -> RecError:
    rec, issue = _HTTP.get(exc.status, (Rec.BAD_REQUEST, "invalid"))
    return RecError(rec, issue, mask_identifiers(http_error_text(exc, request)))


async def _answer(request: web.Request, handler: Handler, ex: BarsExchange) -> web.StreamResponse:
    try:
        return await handler(request)
    except RecError as error:
        return error_response(error, ex)
    except ApiError as error:
        return error_response(from_api_error(error), ex)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_translated(exc, request), ex)
    except StoreUnavailable:
        log.warning("store_unavailable")
        return error_response(from_api_error(store_unavailable()), ex)
    except Exception:
        log.exception("bars_request_failed")
        message = "internal error; quote the OperationOutcome id to support"
        return error_response(RecError(Rec.SERVER_ERROR, "exception", message), ex)


def _echo(request: web.Request, response: web.StreamResponse) -> None:
    for name in ("X-Request-Id", "X-Correlation-Id"):
        value = header_id(request.headers.get(name))
        if value:
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"


def _audit(request: web.Request, status: int, ex: BarsExchange, decided: Noted) -> None:
    who = ex.identity
    request.config_dict[AUDIT].record(
        AuditEntry(
            at=utcnow(),
            interaction=f"bars_{ex.interaction}",
            method=request.method,
            path=mask_identifiers(request.path),
            status=status,
            request_id=ex.outcome_id,
            correlation_id=masked(ex.request_id),
            trace_id=masked(ex.correlation_id),
            organisation_ods=masked(ex.ods),
            organisation_name=masked(who.organisation.name) if who.organisation else None,
            device_id=masked(who.device.identifier.value) if who.device else None,
            practitioner_id=masked(who.practitioner.id) if who.practitioner else None,
            appointment_id=masked(ex.appointment_id),
            outcome=ex.outcome,
            service_id=ex.service_id,
            slot_count=ex.slot_count,
            **policy_scope.audit_fields(decided),
        )
    )


@web.middleware
async def bars_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    ex = exchange(request)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(outcome_id=ex.outcome_id, door="bars")
    with trace_scope.opened() as tx, policy_scope.opened() as decided:
        async with request.config_dict[RUNTIME].use() as generation:
            ex.generation = generation
            response = await _answer(request, handler, ex)
    _echo(request, response)
    _audit(request, response.status, ex, decided)
    _trace.record(request, response, ex, tx)
    log.info(
        "bars_request_handled",
        method=request.method,
        path=mask_identifiers(request.path),
        interaction=ex.interaction,
        status=response.status,
        outcome=ex.outcome,
        appointment_id=ex.appointment_id,
        organisation=ex.ods,
        duration_ms=ex.elapsed_ms(),
    )
    return response


def create(settings: Settings) -> web.Application:
    """The door's sub-application (mount it at ``settings.bars.base_path``)."""
    bars = settings.bars
    if bars is None:
        raise ValueError("no bars: section in the configuration")
    problem = mount_problem(settings)
    if problem:
        raise ValueError(problem)
    door = web.Application(middlewares=[bars_middleware])
    door[BARS] = bars
    door[TARGETS] = Targets(load_targets(settings, bars))
    handlers.add_routes(door)
    return door
