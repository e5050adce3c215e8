"""The REST diary's error answers -> typed adapter errors, by one table.

The diary answers failures as ``{"errorCode": "...", "message": "..."}`` with
an HTTP status. The code decides; the status is the fallback for codes we do
not know. The supplier's free-text message is never kept: it may quote the
patient.
"""

from __future__ import annotations

import json

import structlog

from adapters import errors
from adapters._http import Reply

log = structlog.get_logger(__name__)

#: Supplier errorCode -> typed error (Diary API v2 "Error codes" appendix).
BY_CODE: dict[str, type[errors.AdapterError]] = {
    "CLINIC_NOT_FOUND": errors.ServiceNotFound,
    "SLOT_NOT_FOUND": errors.SlotNotFound,
    "SLOT_TAKEN": errors.SlotUnavailable,
    "SLOT_BLOCKED": errors.SlotUnavailable,
    "SLOT_IN_PAST": errors.SlotUnavailable,
    "SLOT_MISMATCH": errors.SlotMismatch,
    "APPOINTMENT_NOT_FOUND": errors.BookingNotFound,
    "ALREADY_CANCELLED": errors.BookingNotCancellable,
    "APPOINTMENT_IN_PAST": errors.BookingNotCancellable,
    "IDEMPOTENCY_KEY_REUSED": errors.BookingRejected,
    "VALIDATION_FAILED": errors.BookingRejected,
    "CLINIC_CLOSED": errors.BookingRejected,
    "PATIENT_REJECTED": errors.BookingRejected,
    "UNAUTHORISED": errors.SupplierUnavailable,
    "RATE_LIMITED": errors.SupplierUnavailable,
    "MAINTENANCE": errors.SupplierUnavailable,
}


def _by_status(status: int) -> type[errors.AdapterError]:
    if status >= 500 or status in (401, 403, 408, 429):
        return errors.SupplierUnavailable
    return errors.SupplierProtocolError


def from_reply(operation: str, reply: Reply, adapter: str) -> errors.AdapterError:
    """The typed error for a non-success answer."""
    code = _error_code(reply)
    typed = BY_CODE.get(code) if code else None
    if typed is None:
        typed = _by_status(reply.status)
    detail = f"HTTP {reply.status} {code or '(no error code)'}"
    log.info(
        "supplier_refused",
        adapter=adapter,
        operation=operation,
        status=reply.status,
        error_code=code,
        typed=typed.__name__,
    )
    return typed(f"{operation}: the supplier answered {detail}", supplier_detail=detail)


def _error_code(reply: Reply) -> str | None:
    if reply.content_type != "application/json":
        return None
    try:
        data = json.loads(reply.body)
    except ValueError:
        return None
    code = data.get("errorCode") if isinstance(data, dict) else None
    # Bounded and plain: a hostile code must not flood the log.
    if isinstance(code, str) and code.isascii() and len(code) <= 64:
        return code
    return None
