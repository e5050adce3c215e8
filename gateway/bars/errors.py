"""Every error the BaRS door returns, from one table (Error-Handling/, api/examples/).

An ``ApiError`` raised by the shared booking service or the STU3 helpers this
door reuses carries an STU3 ``ErrorKind``; ``KIND_TO_REC`` says what each is in
BaRS terms. The door's own failures (headers, targets, version negotiation)
raise ``RecError`` with a ``Rec`` code directly. Nothing else decides a status.

Choices (docs/spec-choices.md, "BaRS receiver (FHIR R4)"):
- a slot no longer free is 409 REC_CONFLICT issue ``conflict`` (Example-Errors:
  "trying to Book an appointment in a slot that doesn't allow booking"); a resent
  X-Request-Id is 409 REC_CONFLICT issue ``duplicate`` (api/examples/conflict.json),
  whether its first send has finished (Content-Location names what it made) or is
  still being processed (Retry-After says when to resend);
- a supplier that does not answer inside the door's budget is 408 REC_TIMEOUT
  (General-Failure-Scenarios, Message-Routing); one that is down is
  503 REC_SERVICE_UNAVAILABLE;
- a consumer not on a service's allow-list is 401 REC_UNAUTHORIZED ``forbidden``
  (GET--Slots failure table: access control is the receiver's, 401);
- a body that breaks the R4 structure or the profile is 400 REC_BAD_REQUEST
  (General-Failure-Scenarios: "content invalid against the specification or a
  profile"); a well-formed request against a business rule is 422.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.errors import ApiError, ErrorKind

#: api/examples/*.json: the system of every REC_* code.
HTTP_ERROR_CODES = "https://fhir.nhs.uk/Codesystem/http-error-codes"


@dataclass(frozen=True, slots=True)
class RecSpec:
    status: int
    code: str
    severity: str = "error"


class Rec(enum.Enum):
    BAD_REQUEST = RecSpec(400, "REC_BAD_REQUEST")
    UNAUTHORIZED = RecSpec(401, "REC_UNAUTHORIZED")
    FORBIDDEN = RecSpec(403, "REC_FORBIDDEN")
    NOT_FOUND = RecSpec(404, "REC_NOT_FOUND")
    METHOD_NOT_ALLOWED = RecSpec(405, "REC_METHOD_NOT_ALLOWED")
    NOT_ACCEPTABLE = RecSpec(406, "REC_NOT_ACCEPTABLE")
    TIMEOUT = RecSpec(408, "REC_TIMEOUT")
    CONFLICT = RecSpec(409, "REC_CONFLICT")
    # No REC code for 413/415 in the value set: REC_BAD_REQUEST with the HTTP status.
    PAYLOAD_TOO_LARGE = RecSpec(413, "REC_BAD_REQUEST")
    UNSUPPORTED_MEDIA_TYPE = RecSpec(415, "REC_BAD_REQUEST")
    UNPROCESSABLE_ENTITY = RecSpec(422, "REC_UNPROCESSABLE_ENTITY")
    SERVER_ERROR = RecSpec(500, "REC_SERVER_ERROR")
    NOT_IMPLEMENTED = RecSpec(501, "REC_NOT_IMPLEMENTED")
    SERVICE_UNAVAILABLE = RecSpec(503, "REC_SERVICE_UNAVAILABLE")

    @property
    def spec(self) -> RecSpec:
        value: RecSpec = self.value
        return value


class RecError(Exception):
    """A BaRS error answer: its REC code, the FHIR issue code and what went wrong."""

    def __init__(
        self,
        rec: Rec,
        issue_code: str,
        diagnostics: str,
        *,
        expression: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.rec = rec
        self.issue_code = issue_code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = dict(headers or {})


#: Each shared ``ErrorKind`` in BaRS terms: (REC code, issue code).
KIND_TO_REC: dict[ErrorKind, tuple[Rec, str]] = {
    ErrorKind.BAD_REQUEST: (Rec.BAD_REQUEST, "invalid"),
    ErrorKind.INVALID_PARAMETER: (Rec.BAD_REQUEST, "value"),
    ErrorKind.INVALID_RESOURCE: (Rec.BAD_REQUEST, "structure"),
    ErrorKind.JWT_MALFORMED: (Rec.BAD_REQUEST, "security"),
    ErrorKind.ACCESS_DENIED: (Rec.UNAUTHORIZED, "forbidden"),
    ErrorKind.JWT_INVALID: (Rec.UNAUTHORIZED, "security"),
    ErrorKind.SSP_HEADERS: (Rec.UNAUTHORIZED, "security"),
    ErrorKind.NOT_FOUND: (Rec.NOT_FOUND, "not-found"),
    ErrorKind.SERVICE_NOT_FOUND: (Rec.NOT_FOUND, "not-found"),
    ErrorKind.METHOD_NOT_ALLOWED: (Rec.METHOD_NOT_ALLOWED, "not-supported"),
    ErrorKind.NOT_ACCEPTABLE: (Rec.NOT_ACCEPTABLE, "processing"),
    ErrorKind.DUPLICATE_REQUEST: (Rec.CONFLICT, "duplicate"),
    # Still being processed: a duplicate too (with Retry-After), never "slot taken".
    ErrorKind.REQUEST_IN_PROGRESS: (Rec.CONFLICT, "duplicate"),
    ErrorKind.VERSION_CONFLICT: (Rec.CONFLICT, "conflict"),
    ErrorKind.PRECONDITION_FAILED: (Rec.BAD_REQUEST, "required"),
    ErrorKind.PAYLOAD_TOO_LARGE: (Rec.PAYLOAD_TOO_LARGE, "too-costly"),
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: (Rec.UNSUPPORTED_MEDIA_TYPE, "not-supported"),
    ErrorKind.PROFILE_VIOLATION: (Rec.BAD_REQUEST, "invariant"),
    ErrorKind.INVALID_NHS_NUMBER: (Rec.BAD_REQUEST, "value"),
    ErrorKind.SLOT_UNAVAILABLE: (Rec.CONFLICT, "conflict"),
    ErrorKind.REFERENCE_NOT_FOUND: (Rec.UNPROCESSABLE_ENTITY, "not-found"),
    ErrorKind.BUSINESS_RULE: (Rec.UNPROCESSABLE_ENTITY, "business-rule"),
    # Booking rules across borders: not released to, or not bookable by, this sender.
    ErrorKind.POLICY_FORBIDDEN: (Rec.FORBIDDEN, "forbidden"),
    ErrorKind.POLICY_REASON_REQUIRED: (Rec.FORBIDDEN, "business-rule"),
    ErrorKind.UPDATE_NOT_ALLOWED: (Rec.UNPROCESSABLE_ENTITY, "business-rule"),
    ErrorKind.INTERNAL_ERROR: (Rec.SERVER_ERROR, "exception"),
    ErrorKind.NOT_IMPLEMENTED: (Rec.NOT_IMPLEMENTED, "not-supported"),
    ErrorKind.SUPPLIER_UNAVAILABLE: (Rec.SERVICE_UNAVAILABLE, "transient"),
    ErrorKind.SUPPLIER_CIRCUIT_OPEN: (Rec.SERVICE_UNAVAILABLE, "transient"),
    ErrorKind.SUPPLIER_TIMEOUT: (Rec.TIMEOUT, "timeout"),
    ErrorKind.STORE_UNAVAILABLE: (Rec.SERVICE_UNAVAILABLE, "transient"),
    ErrorKind.SUPPLIER_REFUSED: (Rec.SERVER_ERROR, "exception"),
}


def from_api_error(error: ApiError) -> RecError:
    """An error of the shared service, in this door's terms."""
    rec, issue = KIND_TO_REC.get(error.kind, (Rec.SERVER_ERROR, "exception"))
    diagnostics = error.diagnostics
    if error.kind.spec.fixed_diagnostics:
        diagnostics = f"{error.kind.spec.fixed_diagnostics}: {diagnostics}"
    return RecError(rec, issue, diagnostics, expression=error.expression, headers=error.headers)


def bad_header(name: str, issue: str, message: str) -> RecError:
    """400 REC_BAD_REQUEST about one request header (the expression names it)."""
    return RecError(Rec.BAD_REQUEST, issue, message, expression=f"http.{name}")


OUTCOME_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"


def _text(value: str) -> str:
    # A header byte that is not UTF-8 reaches us as a lone surrogate: written as its escape.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def operation_outcome(error: RecError, *, outcome_id: str, now: str) -> dict[str, object]:
    """The R4 OperationOutcome for ``error`` (api/examples/OperationOutcome/REC/)."""
    issue: dict[str, object] = {
        "severity": error.rec.spec.severity,
        "code": error.issue_code,
        "details": {"coding": [{"system": HTTP_ERROR_CODES, "code": error.rec.spec.code}]},
        "diagnostics": _text(error.diagnostics),
    }
    if error.expression:
        issue["expression"] = [_text(error.expression)]
    return {
        "resourceType": "OperationOutcome",
        "id": outcome_id,
        "meta": {"lastUpdated": now, "profile": [OUTCOME_PROFILE]},
        "issue": [issue],
    }
