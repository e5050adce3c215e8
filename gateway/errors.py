"""Every error the FHIR surface can return, from one table.

Each ``ErrorKind`` maps to an HTTP status, an OperationOutcome issue severity and
code, and a Spine-ErrorOrWarningCode (``er_errorhandling.md``,
``er_overview.md``). Handlers raise ``ApiError(kind, diagnostics)``; typed
adapter errors are translated by ``ADAPTER_ERRORS``. Nothing else decides a
status code.

Choices where the spec pages disagree (see docs/spec-choices.md):
- a JWT that cannot be decoded at all is 400 (er_overview.md "JWT badly
  constructed"); a JWT that decodes but fails validation, or no JWT, is 403
  (search_slots.md, book_an_appointment.md, cancel_an_appointment.md);
- a slot that is no longer free is 422 (book_an_appointment.md, "business
  rule"), not 409 (er_overview.md), so that 409 on POST always means "this
  X-Request-ID was used before" and a consumer can tell the two apart; its
  issue code is ``processing`` and its diagnostics "Slot no longer available",
  what the national assurance scripts look for;
- a supplier that is down or answers nonsense is 500 (search_slots.md,
  book_an_appointment.md: "a server error ... MUST include a status of 500"),
  with the ``transient`` issue code so a consumer knows a retry may help. 502 is
  what the SSP answers when it cannot reach us (er_overview.md), not ours to use.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from adapters import errors as adapter_errors

SPINE_CODES = "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    issue_code: str
    spine_code: str
    display: str
    severity: str = "error"
    #: When set, the FHIR door's diagnostics are exactly this text (a consumer matches
    #: on it); the particular reason follows in a second, informational issue.
    fixed_diagnostics: str | None = None


class ErrorKind(enum.Enum):
    BAD_REQUEST = ErrorSpec(400, "invalid", "BAD_REQUEST", "Bad request")
    INVALID_PARAMETER = ErrorSpec(400, "invalid", "INVALID_PARAMETER", "Invalid parameter")
    INVALID_RESOURCE = ErrorSpec(400, "structure", "INVALID_RESOURCE", "Invalid resource")
    JWT_MALFORMED = ErrorSpec(400, "security", "BAD_REQUEST", "JWT badly constructed")
    ACCESS_DENIED = ErrorSpec(403, "forbidden", "ACCESS_DENIED", "Access denied")
    JWT_INVALID = ErrorSpec(403, "security", "ACCESS_DENIED", "JWT failed validation")
    SSP_HEADERS = ErrorSpec(403, "security", "ACCESS_DENIED", "Spine proxy headers invalid")
    NOT_FOUND = ErrorSpec(404, "not-found", "NO_RECORD_FOUND", "No record found")
    SERVICE_NOT_FOUND = ErrorSpec(404, "not-found", "NO_RECORD_FOUND", "Service not found")
    METHOD_NOT_ALLOWED = ErrorSpec(405, "not-supported", "BAD_REQUEST", "Method not allowed")
    NOT_ACCEPTABLE = ErrorSpec(406, "not-supported", "BAD_REQUEST", "Not acceptable")
    DUPLICATE_REQUEST = ErrorSpec(
        409, "duplicate", "DUPLICATE_REJECTED", "X-Request-ID used before"
    )
    REQUEST_IN_PROGRESS = ErrorSpec(
        409, "conflict", "DUPLICATE_REJECTED", "Request with this X-Request-ID in progress"
    )
    VERSION_CONFLICT = ErrorSpec(409, "conflict", "CONFLICT", "Version conflict")
    PRECONDITION_FAILED = ErrorSpec(
        412, "conflict", "PRECONDITION_FAILED", "If-Match header required"
    )
    PAYLOAD_TOO_LARGE = ErrorSpec(413, "too-costly", "BAD_REQUEST", "Payload too large")
    UNSUPPORTED_MEDIA_TYPE = ErrorSpec(
        415, "not-supported", "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"
    )
    PROFILE_VIOLATION = ErrorSpec(
        422, "processing", "INVALID_RESOURCE", "Resource does not meet its profile"
    )
    INVALID_NHS_NUMBER = ErrorSpec(422, "value", "INVALID_NHS_NUMBER", "Invalid NHS number")
    SLOT_UNAVAILABLE = ErrorSpec(
        422,
        "processing",
        "SLOT_NOT_FREE",
        "Slot no longer free",
        fixed_diagnostics="Slot no longer available",
    )
    REFERENCE_NOT_FOUND = ErrorSpec(
        422, "not-found", "REFERENCE_NOT_FOUND", "Referenced resource not found"
    )
    BUSINESS_RULE = ErrorSpec(422, "business-rule", "INVALID_RESOURCE", "Business rule")
    # Booking rules across borders (gateway/policy/): the consumer may not book or cancel
    # here, or this slot is not released to it; the diagnostics name the rule.
    POLICY_FORBIDDEN = ErrorSpec(403, "forbidden", "ACCESS_DENIED", "Not allowed by booking policy")
    # An out-of-area booking that needs a reason gave none, or one not accepted.
    POLICY_REASON_REQUIRED = ErrorSpec(
        422, "business-rule", "INVALID_RESOURCE", "Out-of-area booking reason required"
    )
    UPDATE_NOT_ALLOWED = ErrorSpec(
        422, "business-rule", "INVALID_RESOURCE", "Only status may change to cancelled"
    )
    INTERNAL_ERROR = ErrorSpec(
        500, "exception", "INTERNAL_SERVER_ERROR", "Internal server error", "fatal"
    )
    NOT_IMPLEMENTED = ErrorSpec(501, "not-supported", "NOT_IMPLEMENTED", "Not implemented")
    SUPPLIER_UNAVAILABLE = ErrorSpec(
        500, "transient", "SUPPLIER_UNAVAILABLE", "Supplier system unavailable"
    )
    # The route's circuit is open (gateway/circuits.py): answered at once, with Retry-After
    # the seconds until the gateway probes the supplier again.
    SUPPLIER_CIRCUIT_OPEN = ErrorSpec(
        503, "transient", "SUPPLIER_UNAVAILABLE", "Supplier system unavailable"
    )
    SUPPLIER_TIMEOUT = ErrorSpec(504, "transient", "SUPPLIER_TIMEOUT", "Supplier system timeout")
    # The gateway's own store (PostgreSQL) cannot be reached for a moment: nothing was
    # written, the request may be sent again as it was (with Retry-After).
    STORE_UNAVAILABLE = ErrorSpec(
        503, "transient", "INTERNAL_SERVER_ERROR", "Service briefly unavailable"
    )
    # The supplier refused the request as sent (e.g. its 403, 404, 412, 415): a server error
    # to our consumer (book_an_appointment.md: 500), but not transient.
    SUPPLIER_REFUSED = ErrorSpec(
        500, "exception", "SUPPLIER_REFUSED", "Supplier system refused the request"
    )

    @property
    def spec(self) -> ErrorSpec:
        value: ErrorSpec = self.value
        return value


class ApiError(Exception):
    """An error answer: one ``ErrorKind`` plus what exactly went wrong."""

    def __init__(
        self,
        kind: ErrorKind,
        diagnostics: str,
        *,
        expression: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.kind = kind
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = dict(headers or {})


#: Typed adapter errors -> the kind a consumer sees. Most specific first.
ADAPTER_ERRORS: tuple[tuple[type[adapter_errors.AdapterError], ErrorKind], ...] = (
    (adapter_errors.ServiceNotFound, ErrorKind.SERVICE_NOT_FOUND),
    (adapter_errors.SlotNotFound, ErrorKind.REFERENCE_NOT_FOUND),
    (adapter_errors.SlotUnavailable, ErrorKind.SLOT_UNAVAILABLE),
    (adapter_errors.SlotMismatch, ErrorKind.BUSINESS_RULE),
    (adapter_errors.BookingNotFound, ErrorKind.NOT_FOUND),
    (adapter_errors.BookingNotCancellable, ErrorKind.BUSINESS_RULE),
    (adapter_errors.BookingRejected, ErrorKind.BUSINESS_RULE),
    (adapter_errors.MappingError, ErrorKind.BUSINESS_RULE),
    (adapter_errors.CapabilityNotSupported, ErrorKind.NOT_IMPLEMENTED),
    (adapter_errors.SupplierRefused, ErrorKind.SUPPLIER_REFUSED),
    (adapter_errors.CircuitOpen, ErrorKind.SUPPLIER_CIRCUIT_OPEN),
    (adapter_errors.SupplierTimeout, ErrorKind.SUPPLIER_TIMEOUT),
    (adapter_errors.OutcomeUnknown, ErrorKind.SUPPLIER_TIMEOUT),
    (adapter_errors.SupplierUnavailable, ErrorKind.SUPPLIER_UNAVAILABLE),
    (adapter_errors.SupplierProtocolError, ErrorKind.SUPPLIER_UNAVAILABLE),
)


def from_adapter_error(exc: adapter_errors.AdapterError) -> ApiError:
    """Translate a typed adapter error; unknown subclasses become 500 (transient)."""
    if isinstance(exc, adapter_errors.CircuitOpen):
        retry = {"Retry-After": str(exc.retry_after_s)}
        return ApiError(ErrorKind.SUPPLIER_CIRCUIT_OPEN, exc.message, headers=retry)
    for cls, kind in ADAPTER_ERRORS:
        if isinstance(exc, cls):
            return ApiError(kind, exc.message)
    return ApiError(ErrorKind.SUPPLIER_UNAVAILABLE, exc.message)


def store_unavailable() -> ApiError:
    """The answer when the store cannot be reached (``StoreUnavailable``)."""
    return ApiError(
        ErrorKind.STORE_UNAVAILABLE,
        "the gateway's store is briefly unavailable; nothing was changed: send the same "
        "request again shortly",
        headers={"Retry-After": "1"},
    )
