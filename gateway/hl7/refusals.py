"""How an error becomes MSA-1 plus ERR segments: one table per front door (DESIGN.md).

Every ``ApiError`` the booking service raises (typed adapter errors are already
``ApiError`` kinds, ``gateway/errors.py``) is looked up by kind in
``errors.csv``: MSA-1 ``AE``/``AR``, ERR-3 (HL7 v2.5 table 0357), ERR-5 the
kind's Spine code (``SLOT_NOT_FREE``, ``SUPPLIER_TIMEOUT``...) so a consumer
can tell errors apart by machine, and ERR-8 the text saying exactly what
failed. Problems with the message itself are ``Refusal``s carrying the more
precise 0357 code HL7 defines for them (101 required field missing, 102 data
type error, 103 table value not found, 200/201 unsupported type/event, 203
unsupported version).
"""

from __future__ import annotations

from adapters.hl7_toolkit.header import ErrorDetail
from gateway.errors import ApiError, ErrorKind
from gateway.hl7.tables import Tables

#: ERR-4 severities (HL7 v2.5 table 0516).
ERROR, WARNING, INFORMATION = "E", "W", "I"
BOOKING_ONLY_CODE = "REQUIREBOOKING"


class Refusal(ApiError):
    """The message itself is wrong; ``hl7_code`` is the table 0357 code that says how."""

    def __init__(self, hl7_code: str, text: str, kind: ErrorKind = ErrorKind.BAD_REQUEST) -> None:
        super().__init__(kind, text)
        self.hl7_code = hl7_code


def missing(what: str) -> Refusal:
    return Refusal("101", f"{what} is required")


def malformed(what: str, why: str) -> Refusal:
    return Refusal("102", f"{what}: {why}", ErrorKind.INVALID_PARAMETER)


def unmapped(text: str) -> Refusal:
    return Refusal("103", text, ErrorKind.INVALID_PARAMETER)


def describe(error: ApiError, tables: Tables) -> tuple[str, ErrorDetail]:
    """MSA-1 and the ERR detail for ``error``, from the table."""
    row = tables.errors[error.kind]
    code = error.hl7_code if isinstance(error, Refusal) else row.hl7_code
    text = error.diagnostics
    if row.retry:
        # The brief's AE-for-transient choice: ERR-8 says a resend may succeed (same MSH-10).
        text += " (transient: the same message may be resent later)"
    return row.ack_code, ErrorDetail(code, error.kind.spec.spine_code, text)


def booking_only_notice(service_id: str) -> ErrorDetail:
    """dos_bookingonly.md: no booking was made at a booking-only service, so no referral."""
    return ErrorDetail(
        "0",
        BOOKING_ONLY_CODE,
        f"service {service_id} is booking-only (DoS requirebooking): no booking was made, "
        "so a referral must not be sent; choose another service",
    )
