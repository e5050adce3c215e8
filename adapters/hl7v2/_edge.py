"""The adapter's edge: deadlines, and every foreign failure translated by a table.

Two tables (house style: errors translated at the edge, ``raise ... from``):
- the PAS's negative answers (MSA-1 AE/AR with ERR-3/ERR-5), by the supplier's
  ``errors.csv`` (``Mappings.error_name``), because every PAS has its own codes;
- transport and codec failures, by ``TRANSPORT`` below.
Messages carry codes and ids only: ERR text from a PAS may quote the patient.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from pydantic import ValidationError

from adapters import errors
from adapters.domain import CallContext
from adapters.hl7_toolkit.er7 import Er7Error
from adapters.hl7_toolkit.header import Ack
from adapters.hl7_toolkit.mllp_client import (
    AckTimeout,
    ConnectionLost,
    Garbled,
    TransportError,
    Unreachable,
)
from adapters.hl7v2.mapping import Mappings

log = structlog.get_logger(__name__)

#: Foreign exception -> typed error, first match wins.
TRANSPORT: tuple[tuple[type[BaseException], type[errors.AdapterError], str], ...] = (
    (Unreachable, errors.SupplierUnavailable, "the PAS could not be reached"),
    (AckTimeout, errors.SupplierTimeout, "the PAS did not answer in time"),
    (ConnectionLost, errors.SupplierUnavailable, "the PAS closed the connection"),
    (Garbled, errors.SupplierProtocolError, "the PAS sent a frame that is not HL7"),
    (Er7Error, errors.SupplierProtocolError, "the PAS's answer could not be read"),
    (ValidationError, errors.SupplierProtocolError, "a record could not be read"),
    (sqlite3.Error, errors.SupplierUnavailable, "the adapter's journal failed"),
    (UnicodeError, errors.BookingRejected, "the request holds text that cannot be sent"),
    (TimeoutError, errors.SupplierTimeout, "the deadline passed"),
    (ValueError, errors.SupplierProtocolError, "the PAS's answer could not be understood"),
    (OSError, errors.SupplierUnavailable, "the PAS connection failed"),
)

_BY_NAME: dict[str, type[errors.AdapterError]] = {
    name: getattr(errors, name)
    for name in (
        "SlotUnavailable",
        "SlotNotFound",
        "SlotMismatch",
        "BookingNotFound",
        "BookingNotCancellable",
        "BookingRejected",
        "ServiceNotFound",
        "SupplierUnavailable",
        "SupplierProtocolError",
        "MappingError",
    )
}


def translate(operation: str, exc: BaseException) -> errors.AdapterError:
    typed, message = next(
        ((t, m) for foreign, t, m in TRANSPORT if isinstance(exc, foreign)),
        (errors.SupplierUnavailable, "the adapter failed unexpectedly"),
    )
    safe = isinstance(exc, TransportError | sqlite3.Error | OSError)
    detail = f"{type(exc).__name__}: {exc}" if safe else type(exc).__name__
    return typed(f"{operation}: {message}", supplier_detail=detail)


def refusal(operation: str, answer: Ack, mappings: Mappings) -> errors.AdapterError:
    """The typed error for a negative acknowledgement, by the supplier's errors table."""
    first = answer.errors[0] if answer.errors else None
    code = first.hl7_code if first else ""
    application = first.application_code if first else ""
    name = mappings.error_name(answer.code, code, application)
    default = errors.BookingRejected if answer.code in ("AE", "CE") else errors.SupplierUnavailable
    typed = _BY_NAME.get(name or "", default)
    shown = "/".join(v for v in (code, application) if v) or "no ERR"
    return typed(
        f"{operation}: the PAS answered {answer.code} ({shown})",
        supplier_detail=f"MSA-1={answer.code} ERR-3={code} ERR-5={application}",
    )


def storable(text: str) -> bool:
    """Whether ``text`` can be stored, sent or looked up at all (lone surrogates cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeError:
        return False
    return True


@asynccontextmanager
async def guarded(
    operation: str, ctx: CallContext | None, closed: bool, adapter: str
) -> AsyncIterator[None]:
    """Refuse when closed or late; translate whatever escapes ``operation``."""
    if closed:
        raise errors.SupplierUnavailable(f"{operation}: the HL7 v2 adapter is closed")
    if ctx is not None and ctx.expired():
        raise errors.SupplierTimeout(f"{operation}: the deadline passed before the call started")
    try:
        yield
    except errors.AdapterError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error = translate(operation, exc)
        log.warning(
            "supplier_call_failed",
            adapter=adapter,
            operation=operation,
            error_type=type(exc).__name__,
            error=type(error).__name__,
        )
        raise error from exc
