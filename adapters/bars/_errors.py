"""ONE table: every BaRS error code -> the adapter's typed error, and whether it is retried.

Codes: api/booking-and-referral.yaml (4XX-BARS and 5XX-BARS response tables), plus
REC_TOO_EARLY (425), PROXY_TIMEOUT (504), REC_SERVICE_UNAVAILABLE (the receiver's 503,
api/examples/unavailable.json) and the proxy's unprefixed spellings
(Error-Handling/Failure-Scenarios-1-1-x/Message-Routing: "PROXY_UNAVAILABLE /
SERVICE_UNAVAILABLE", Transactional-integrity/Sender-responsibilities: "PROXY_TIMEOUT /
TIMEOUT").

Retries follow Transactional-integrity/Sender-responsibilities exactly: REC_TIMEOUT,
REC_TOO_MANY_REQUESTS, REC_UNAVAILABLE; PROXY_TIMEOUT, PROXY_TOO_MANY_REQUESTS,
PROXY_UNAVAILABLE; SEND_TOO_MANY_REQUESTS and SEND_FORBIDDEN ("on the assumption the
access token issue is resolved": a fresh token is fetched first). Never after REC_CONFLICT
or an issue code ``duplicate`` ("this indicates the message was successfully sent").
An answer with neither an OperationOutcome nor the mirrored X-Request-Id is a
communication failure and is retried too (same page).

A code decides the error; the operation may refine it where the code is generic
(``REFINED``: REC_NOT_FOUND on a read is BookingNotFound, on a slot search
ServiceNotFound; REC_CONFLICT on a book is SlotUnavailable; ...). A write whose
answer is a timeout may have been done: ``OutcomeUnknown``, never SupplierTimeout.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters import errors


class Op(enum.StrEnum):
    """What the adapter was doing (decides how a generic code reads)."""

    SEARCH = "search_slots"
    BOOK = "book"
    READ = "get"
    CANCEL = "cancel"
    REFERRAL = "send_referral"
    METADATA = "metadata"

    @property
    def writes(self) -> bool:
        return self in (Op.BOOK, Op.CANCEL, Op.REFERRAL)


class SenderRejected(errors.SupplierRefused):
    """The BaRS API says this sender's request is at fault (SEND_*): fix it, do not resend."""


class ReceiverRefused(errors.SupplierRefused):
    """The receiver refused the request as sent (REC_* 4xx): resending it will not help."""


class ProxyRefused(errors.SupplierRefused):
    """The BaRS proxy refused the request (PROXY_* 4xx): e.g. no such target."""


class AccessRefused(errors.SupplierRefused):
    """This application is not (or no longer) allowed (401/403 after a fresh token)."""


class RateLimited(errors.SupplierUnavailable):
    """Too many requests (429): try again after ``retry_after_s``."""

    def __init__(
        self,
        message: str,
        *,
        supplier_detail: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, supplier_detail=supplier_detail)
        self.retry_after_s = retry_after_s


class TooEarly(errors.SupplierUnavailable):
    """REC_TOO_EARLY (425): the receiver will not take this yet; a later resend may do."""


class NotReady(errors.SupplierUnavailable):
    """The receiver or proxy is unavailable or failed (5xx)."""


@dataclass(frozen=True, slots=True)
class CodeRule:
    """One code of the spec: its HTTP status, the typed error, whether it is retried."""

    code: str
    status: int
    error: type[errors.AdapterError]
    retried: bool
    message: str


def _r(
    code: str, status: int, error: type[errors.AdapterError], retried: bool, message: str
) -> CodeRule:
    return CodeRule(code, status, error, retried, message)


#: Every code, once. ``retried``: the adapter resends (same ids, same body) within the deadline.
CODES: tuple[CodeRule, ...] = (
    _r("SEND_BAD_REQUEST", 400, SenderRejected, False, "the BaRS API could not process it"),
    _r("REC_BAD_REQUEST", 400, ReceiverRefused, False, "the receiver found it malformed"),
    _r("SEND_UNAUTHORIZED", 401, AccessRefused, False, "the BaRS API refused this sender"),
    _r("REC_UNAUTHORIZED", 401, AccessRefused, False, "the receiver refused this sender"),
    _r("SEND_FORBIDDEN", 403, AccessRefused, True, "missing or expired token"),
    _r("REC_FORBIDDEN", 403, AccessRefused, False, "the receiver forbade this request"),
    _r("PROXY_NOT_FOUND", 404, ProxyRefused, False, "the proxy knows no such target"),
    _r("REC_NOT_FOUND", 404, ReceiverRefused, False, "the receiver has no such resource"),
    _r("SEND_METHOD_NOT_ALLOWED", 405, errors.CapabilityNotSupported, False, "not allowed"),
    _r("REC_METHOD_NOT_ALLOWED", 405, errors.CapabilityNotSupported, False, "not offered"),
    _r("PROXY_METHOD_NOT_ALLOWED", 405, errors.CapabilityNotSupported, False, "not allowed"),
    _r("SEND_NOT_ACCEPTABLE", 406, SenderRejected, False, "the answer type asked is refused"),
    _r("REC_NOT_ACCEPTABLE", 406, ReceiverRefused, False, "the receiver cannot answer so"),
    _r("REC_TIMEOUT", 408, errors.SupplierTimeout, True, "the receiver timed out"),
    _r("SEND_CONFLICT", 409, SenderRejected, False, "the BaRS API found a conflict"),
    _r("REC_CONFLICT", 409, ReceiverRefused, False, "the receiver found a conflict"),
    _r("PROXY_CONFLICT", 409, ProxyRefused, False, "the proxy found a conflict"),
    _r("SEND_UNPROCESSABLE_ENTITY", 422, SenderRejected, False, "unprocessable"),
    _r("REC_UNPROCESSABLE_ENTITY", 422, errors.BookingRejected, False, "the receiver refused"),
    _r("PROXY_UNPROCESSABLE_ENTITY", 422, ProxyRefused, False, "unprocessable"),
    _r("REC_TOO_EARLY", 425, TooEarly, False, "the receiver will not take it yet"),
    _r("SEND_TOO_MANY_REQUESTS", 429, RateLimited, True, "too many requests"),
    _r("REC_TOO_MANY_REQUESTS", 429, RateLimited, True, "the receiver is busy"),
    _r("PROXY_TOO_MANY_REQUESTS", 500, RateLimited, True, "the proxy is busy"),
    _r("TOO_MANY_REQUESTS", 500, RateLimited, True, "the proxy is busy"),
    _r("REC_SERVER_ERROR", 500, NotReady, False, "the receiver failed"),
    _r("PROXY_SERVER_ERROR", 500, NotReady, False, "the proxy failed"),
    _r("SEND_NOT_IMPLEMENTED", 501, errors.CapabilityNotSupported, False, "not recognised"),
    _r("REC_NOT_IMPLEMENTED", 501, errors.CapabilityNotSupported, False, "not offered"),
    _r("PROXY_NOT_IMPLEMENTED", 501, errors.CapabilityNotSupported, False, "not recognised"),
    _r("REC_UNAVAILABLE", 503, NotReady, True, "the receiver is unavailable"),
    _r("REC_SERVICE_UNAVAILABLE", 503, NotReady, True, "the receiver is unavailable"),
    _r("PROXY_UNAVAILABLE", 503, NotReady, True, "the proxy is unavailable"),
    _r("UNAVAILABLE", 503, NotReady, True, "the proxy is unavailable"),
    _r("SERVICE_UNAVAILABLE", 503, NotReady, True, "the proxy is unavailable"),
    _r("PROXY_TIMEOUT", 504, errors.SupplierTimeout, True, "the receiver did not answer"),
    _r("TIMEOUT", 504, errors.SupplierTimeout, True, "the receiver did not answer"),
)
BY_CODE: Mapping[str, CodeRule] = {rule.code: rule for rule in CODES}

#: (operation, code) -> the error a generic code means for that operation.
REFINED: Mapping[tuple[Op, str], type[errors.AdapterError]] = {
    (Op.SEARCH, "REC_NOT_FOUND"): errors.ServiceNotFound,
    (Op.SEARCH, "PROXY_NOT_FOUND"): errors.ServiceNotFound,
    (Op.READ, "REC_NOT_FOUND"): errors.BookingNotFound,
    (Op.CANCEL, "REC_NOT_FOUND"): errors.BookingNotFound,
    (Op.BOOK, "REC_NOT_FOUND"): errors.SlotNotFound,
    (Op.BOOK, "REC_CONFLICT"): errors.SlotUnavailable,
    (Op.CANCEL, "REC_UNPROCESSABLE_ENTITY"): errors.BookingNotCancellable,
    (Op.REFERRAL, "REC_UNPROCESSABLE_ENTITY"): ReceiverRefused,
}

#: Status -> the code a body-less (or code-less) answer is read as.
BY_STATUS: Mapping[int, str] = {
    400: "REC_BAD_REQUEST",
    401: "SEND_UNAUTHORIZED",
    403: "SEND_FORBIDDEN",
    404: "REC_NOT_FOUND",
    405: "REC_METHOD_NOT_ALLOWED",
    406: "REC_NOT_ACCEPTABLE",
    408: "REC_TIMEOUT",
    409: "REC_CONFLICT",
    422: "REC_UNPROCESSABLE_ENTITY",
    425: "REC_TOO_EARLY",
    429: "REC_TOO_MANY_REQUESTS",
    500: "REC_SERVER_ERROR",
    501: "REC_NOT_IMPLEMENTED",
    502: "PROXY_UNAVAILABLE",
    503: "REC_SERVICE_UNAVAILABLE",
    504: "PROXY_TIMEOUT",
}


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    return (v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()


def is_outcome(body: Any) -> bool:
    return isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"


def codes(body: Any) -> tuple[set[str], set[str]]:
    """(issue codes, details codes) of an OperationOutcome; empty for anything else."""
    issue_codes: set[str] = set()
    detail_codes: set[str] = set()
    if not is_outcome(body):
        return issue_codes, detail_codes
    for issue in _dicts(body.get("issue")):
        if isinstance(issue.get("code"), str):
            issue_codes.add(issue["code"])
        for coding in _dicts((issue.get("details") or {}).get("coding")):
            if isinstance(coding.get("code"), str):
                detail_codes.add(coding["code"])
    return issue_codes, detail_codes


def rule_for(status: int, body: Any) -> CodeRule | None:
    """The rule of the first known code the answer carries, else the status's default."""
    _, details = codes(body)
    for code in sorted(details):
        if code in BY_CODE:
            return BY_CODE[code]
    default = BY_STATUS.get(status)
    return BY_CODE[default] if default else None


def is_duplicate(body: Any) -> bool:
    """An OperationOutcome saying "this X-Request-Id was processed before" (issue duplicate)."""
    issue_codes, _ = codes(body)
    return "duplicate" in issue_codes


_CODE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def detail(status: int, body: Any) -> str:
    """What was said, for the log: status and codes, never diagnostics (free text)."""
    parts = [f"HTTP {status}"]
    issue_codes, details = codes(body)
    parts += sorted(c for c in issue_codes | details if _CODE.match(c))
    return " ".join(parts)


def retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def error_for(
    op: Op, status: int, body: Any, headers: Mapping[str, str] | None = None
) -> errors.AdapterError:
    """The typed error for an unwanted answer to ``op``, by ``CODES`` and ``REFINED``."""
    rule = rule_for(status, body)
    said = detail(status, body)
    if rule is None:
        kind: type[errors.AdapterError] = ReceiverRefused if 400 <= status < 500 else NotReady
        return kind(f"{op.value}: unexpected answer (HTTP {status})", supplier_detail=said)
    typed = REFINED.get((op, rule.code), rule.error)
    if typed is errors.SupplierTimeout and op.writes:
        # The request may have been processed: only a read (or a resend) can tell.
        typed = errors.OutcomeUnknown
    message = f"{op.value}: {rule.message} ({rule.code}, HTTP {status})"
    if issubclass(typed, RateLimited):
        return typed(message, supplier_detail=said, retry_after_s=retry_after(headers or {}))
    return typed(message, supplier_detail=said)
