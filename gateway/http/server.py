"""The HTTP server under the app: requests aiohttp cannot parse still get an OperationOutcome.

A request line with invalid characters, a header longer than the limit, too many
headers, bad chunked framing or Transfer-Encoding beside Content-Length never
reaches the middleware: aiohttp's protocol answers it itself, in plain text, and
logs the raw request line (an NHS number in a query, the start of a JWT) through
its ``aiohttp.server`` logger. er_errorhandling.md wants an OperationOutcome for
every 4xx/5xx, and no patient data may be logged, so the protocol's one error
hook, ``RequestHandler.handle_error``, is replaced: it answers a FHIR JSON
OperationOutcome (no Accept header was read, so JSON, the required format) and
logs the kind of problem only, never the bytes sent.

aiohttp offers no public option to choose the protocol class, so ``GatewayRunner``
(an ``AppRunner``) makes its server build ``FhirRequestHandler``s.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from gateway.errors import ApiError, ErrorKind
from gateway.fhir import formats
from gateway.fhir.outcome import operation_outcome

log = structlog.get_logger("gateway.http")

#: The longest request line (method, URL, version): aiohttp's default, ample for a FHIR search.
MAX_LINE = 8190
#: The longest header field: twice aiohttp's default, so a JWT with a long practitioner
#: name and role list still fits. Beyond either limit the answer is 400 (the Booking API's
#: code for a malformed request; 414 and 431 are not among its error codes).
MAX_FIELD = 16_384
#: The most header fields in one request (aiohttp's default).
MAX_HEADERS = 128


def _described(status: int, exc: BaseException | None) -> ApiError:
    """What went wrong, in words that never repeat the bytes sent."""
    if isinstance(exc, http_exceptions.LineTooLong):
        if exc.args[1:2] == (MAX_FIELD,):
            return ApiError(ErrorKind.BAD_REQUEST, f"a header is longer than {MAX_FIELD} bytes")
        return ApiError(ErrorKind.BAD_REQUEST, f"the request line is longer than {MAX_LINE} bytes")
    if isinstance(exc, http_exceptions.ContentEncodingError):
        return ApiError(
            ErrorKind.BAD_REQUEST, "the body cannot be decoded as its Content-Encoding says"
        )
    if isinstance(exc, http_exceptions.TransferEncodingError):
        return ApiError(ErrorKind.BAD_REQUEST, "the body's chunked transfer coding is broken")
    if isinstance(exc, http_exceptions.InvalidURLError):
        return ApiError(ErrorKind.BAD_REQUEST, "the request URL is not a valid URL")
    if isinstance(exc, http_exceptions.HttpProcessingError) or 400 <= status < 500:
        message = getattr(exc, "message", None)
        reason = message if message in _SAFE_REASONS else "the request is not valid HTTP/1.1"
        return ApiError(ErrorKind.BAD_REQUEST, reason)
    if status == 504:
        return ApiError(ErrorKind.SUPPLIER_TIMEOUT, "the request took too long to answer")
    return ApiError(
        ErrorKind.INTERNAL_ERROR, "internal error; quote the OperationOutcome id to support"
    )


#: aiohttp's own reasons that hold nothing of the request and say what to fix.
_SAFE_REASONS = frozenset(
    {
        "Too many headers received",
        "Missing 'Host' header in request.",
        "Request has invalid `Transfer-Encoding`",
        "Data after `Connection: close`",
        "Bad line ending, expected CRLF",
    }
)


class FhirRequestHandler(RequestHandler):
    """aiohttp's protocol, whose own error answers are OperationOutcomes."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # As aiohttp: part of a response is out, so no other can be sent.
            raise ConnectionError("a response was already started; cannot send an error")
        error = _described(status, exc)
        outcome_id = str(uuid.uuid4())
        fields = {"status": error.kind.spec.status, "problem": type(exc).__name__ if exc else None}
        if error.kind is ErrorKind.INTERNAL_ERROR:
            log.error("request_failed_in_server", outcome_id=outcome_id, exc_info=exc, **fields)
        else:
            log.warning("http_request_unreadable", outcome_id=outcome_id, **fields)
        body = formats.dump(
            operation_outcome(error, outcome_id=outcome_id), formats.WireFormat.JSON
        )
        resp = web.Response(
            status=error.kind.spec.status,
            body=body,
            headers={
                "Content-Type": formats.WireFormat.JSON.content_type,
                "Cache-Control": "no-store",
                "X-Request-ID": outcome_id,
            },
        )
        resp.force_close()
        return resp


class _FhirServer(web.Server):
    def __call__(self) -> RequestHandler:
        return FhirRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An ``AppRunner`` whose connections answer unparseable requests with OperationOutcomes."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        limits = {
            "max_line_size": MAX_LINE,
            "max_field_size": MAX_FIELD,
            "max_headers": MAX_HEADERS,
        }
        super().__init__(app, **{**limits, **kwargs})

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The app's server, unchanged but for the protocol class it builds (see module doc).
        server.__class__ = _FhirServer
        return server
