"""Row 11: what the protocol's error hook says for each kind of unreadable request."""

from __future__ import annotations

from aiohttp import http_exceptions

from gateway.errors import ErrorKind
from gateway.http.server import MAX_FIELD, MAX_LINE, _described


def test_parser_errors_are_400_and_never_echo_the_request() -> None:
    """Every parser error is 400 BAD_REQUEST with words of ours, never the bytes sent."""
    sent = "GET /Appointment?patient:identifier=|9434765919"
    errors = (
        http_exceptions.BadStatusLine(sent),
        http_exceptions.BadHttpMethod(sent),
        http_exceptions.InvalidHeader(sent.encode()),
        http_exceptions.InvalidURLError(sent),
        http_exceptions.BadHttpMessage(sent),
        http_exceptions.HttpProcessingError(code=400, message=sent),
        http_exceptions.TransferEncodingError(sent),
        http_exceptions.ContentEncodingError(sent),
    )
    for exc in errors:
        error = _described(400, exc)
        assert error.kind is ErrorKind.BAD_REQUEST, exc
        assert "9434765919" not in error.diagnostics and "GET" not in error.diagnostics


def test_oversize_lines_name_their_limit() -> None:
    """A header over its limit and a request line over its own are told apart."""
    header = _described(400, http_exceptions.LineTooLong(b"Authorization: Bearer eyJ", MAX_FIELD))
    line = _described(400, http_exceptions.LineTooLong(b"GET /Slot?x", MAX_LINE))
    assert header.diagnostics == f"a header is longer than {MAX_FIELD} bytes"
    assert line.diagnostics == f"the request line is longer than {MAX_LINE} bytes"


def test_a_fault_outside_the_middleware_is_a_500_outcome_without_detail() -> None:
    """A handler fault that escaped the middleware is 500 INTERNAL_ERROR, saying only that."""
    error = _described(500, RuntimeError("patient 9434765919"))
    assert error.kind is ErrorKind.INTERNAL_ERROR
    assert "9434765919" not in error.diagnostics
