"""The ITK door as an aiohttp sub-application: one SOAP endpoint at ``itk.path``.

Every request gets a SOAP answer (an ack or an ITK fault, never a stack trace),
one log line and one audit row, ids only: the tracking id, the WS-Addressing
MessageID, the sender's ODS code, the referral id, the fault code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import structlog
from aiohttp import web

from adapters.domain import utcnow
from adapters.itk_toolkit.errors import ItkError, ToolkitCode
from adapters.soap_toolkit.envelope import SoapVersion
from gateway._claims import instance_id
from gateway.config import ItkSettings, Settings
from gateway.doors import masked
from gateway.http.exchange import AUDIT, RUNTIME, SETTINGS, STORE
from gateway.itk import _trace, answers, validate
from gateway.itk.receive import Receipt, Receiver
from gateway.itk.tables import Tables, load_tables
from gateway.msgjournal.doors import itk_received
from gateway.policy import scope as policy_scope
from gateway.policy.scope import Noted
from gateway.store import AuditEntry, StoreUnavailable
from gateway.trace import scope as trace_scope

log = structlog.get_logger("gateway.itk")

ITK = web.AppKey("itk_settings", ItkSettings)
TABLES = web.AppKey("itk_tables", Tables)
OWNER = web.AppKey("itk_owner", str)
#: The clock the door checks WS-Security timestamps against; set on the gateway app to
#: inject one (tests), else the wall clock.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("itk_clock")


async def _body(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (read no further)."""
    if (request.content_length or 0) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(request: web.Request) -> web.Response:
    """POST: one ITK message in, its acknowledgement or fault out."""
    started = time.perf_counter()
    settings = request.config_dict[ITK]
    receipt = Receipt()
    decided: Noted | None = None
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(door="itk")
    body = await _body(request, settings.max_body_bytes)
    if body is None:
        version = validate.media_version(request.content_type) or SoapVersion.V11
        error = ItkError(ToolkitCode.XML_REFUSED, "too large")
        receipt.outcome, receipt.error_code = "fault", error.code.code
        answer = answers.fault(error, version, None)
    else:
        receiver = Receiver(
            settings,
            request.config_dict[TABLES],
            request.config_dict.get(CLOCK, utcnow),
            request.config_dict[OWNER],
        )
        content_type = request.headers.get("Content-Type", "")
        try:
            with trace_scope.opened() as tx, policy_scope.opened() as decided:
                async with request.config_dict[RUNTIME].use() as generation:
                    answer = await receiver.handle(
                        body, content_type, generation, request.config_dict[STORE], receipt
                    )
            _trace.record(request, tx, receipt)
        except StoreUnavailable:
            # Nothing was claimed or sent on: 3100, send the same message again later.
            log.warning("store_unavailable")
            version = validate.media_version(request.content_type) or SoapVersion.V11
            error = ItkError(ToolkitCode.PROCESSING_FAILED, "store briefly unavailable")
            receipt.outcome, receipt.error_code = "fault", error.code.code
            answer = answers.fault(error, version, None)
    response = web.Response(status=answer.status, body=answer.body, headers=answer.headers)
    _audit(request, response.status, receipt, decided)
    await _journal(request, body, receipt)
    log.info(
        "itk_request_handled",
        status=response.status,
        outcome=receipt.outcome,
        code=receipt.error_code,
        tracking_id=masked(receipt.tracking_id),
        referral_id=receipt.referral_id,
        service_id=receipt.service_id,
        organisation=receipt.sender_ods,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return response


def _audit(request: web.Request, status: int, receipt: Receipt, decided: Noted | None) -> None:
    request.config_dict[AUDIT].record(
        AuditEntry(
            at=utcnow(),
            interaction="itk_report",
            method=request.method,
            path=request.path,
            status=status,
            request_id=masked(receipt.message_id),
            correlation_id=masked(receipt.tracking_id),
            organisation_ods=masked(receipt.sender_ods),
            outcome=receipt.outcome
            if receipt.error_code is None
            else f"fault_{receipt.error_code}",
            service_id=receipt.service_id,
            **(policy_scope.audit_fields(decided) if decided else {}),
        )
    )


async def _journal(request: web.Request, body: bytes | None, receipt: Receipt) -> None:
    """The message journal's row (docs/ops/journal.md); ids and the sealed envelope only."""
    journal = request.config_dict[SETTINGS].journal
    await itk_received(
        request.config_dict[STORE],
        journal,
        body,
        receipt.outcome,
        receipt.error_code,
        masked(receipt.tracking_id),
        masked(receipt.sender_ods),
    )


def tables_for(settings: Settings, itk: ItkSettings) -> Tables:
    """The door's tables, every address mapped to a configured service."""
    known = {service.id for service in settings.services}
    return load_tables(settings.resolve(itk.mappings), known)


def create(settings: Settings) -> web.Application:
    """The door's sub-application (mount it at ``settings.itk.path``)."""
    itk = settings.itk
    if itk is None:
        raise ValueError("no itk: section in the configuration")
    door = web.Application()
    door[ITK] = itk
    door[TABLES] = tables_for(settings, itk)
    door[OWNER] = instance_id()
    door.router.add_post("", receive)
    door.router.add_post("/", receive)
    return door
