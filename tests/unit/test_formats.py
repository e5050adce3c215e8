"""Wire formats at the edges: numbers JSON cannot hold, text XML cannot hold, unwritable errors."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from gateway.errors import ApiError, ErrorKind
from gateway.fhir.formats import WireFormat, dump, dump_outcome, load
from gateway.fhir.outcome import operation_outcome


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType": "Appointment", "x": ' + b"1" * 4301 + b"}",
        b'{"resourceType": "Appointment", "x": -' + b"7" * 10_000 + b"}",
        b'{"resourceType": "Appointment", "x": NaN}',
        b'{"resourceType": "Appointment", "x": -Infinity}',
        b'{"resourceType": "Appointment", "x": Infinity}',
    ],
)
def test_row_6_numbers_json_cannot_hold_are_400(body: bytes) -> None:
    """Row 6: integers past 4,300 digits and NaN/Infinity are a 400 ApiError, never ValueError."""
    with pytest.raises(ApiError) as caught:
        load(body, WireFormat.JSON)
    assert caught.value.kind is ErrorKind.BAD_REQUEST


def test_ordinary_json_numbers_still_load() -> None:
    """Big-but-readable integers, exponents and negative zero are read as JSON says."""
    data = load(b'{"a": 12345678901234567890, "b": 1e400, "c": -0.0, "d": 1E-5}', WireFormat.JSON)
    assert data["a"] == 12345678901234567890 and data["b"] == float("inf")


def test_row_1_xml_forbidden_characters_become_replacement_characters() -> None:
    """Row 1: lone surrogates (both formats) and XML-forbidden controls (XML) become U+FFFD."""
    outcome = operation_outcome(ApiError(ErrorKind.NOT_FOUND, "no service"))
    # Set after operation_outcome, which escapes lone surrogates itself: this pins the writers.
    outcome["issue"][0]["diagnostics"] = "no service '\x01\x00\ud800\x1f'"
    for fmt in WireFormat:
        raw = dump(outcome, fmt)
        text = (
            json.loads(raw)["issue"][0]["diagnostics"]
            if fmt is WireFormat.JSON
            else etree.fromstring(raw)
            .find("{http://hl7.org/fhir}issue/{http://hl7.org/fhir}diagnostics")
            .get("value")
        )
        assert "\ufffd" in text and "\ud800" not in text
        assert ("\x01" in text) is (fmt is WireFormat.JSON)  # JSON escapes it: \u0001


def test_row_1_an_unwritable_outcome_falls_back_to_a_minimal_json_one() -> None:
    """Row 1: an outcome neither format can write still answers a minimal JSON OperationOutcome."""
    outcome = operation_outcome(ApiError(ErrorKind.BAD_REQUEST, "x"), outcome_id="abc-123")
    outcome["issue"][0]["diagnostics"] = object()
    body, fmt = dump_outcome(outcome, WireFormat.XML)
    assert fmt is WireFormat.JSON
    written = json.loads(body)
    assert written["resourceType"] == "OperationOutcome" and written["id"] == "abc-123"
    assert written["issue"][0]["code"] == "exception"


def test_json_writes_integers_beyond_64_bits() -> None:
    """An integer JSON can hold but orjson cannot (beyond 64 bits) is still written, exactly."""
    resource = {"resourceType": "Basic", "x": 2**70, "y": "\ud800"}
    assert json.loads(dump(resource, WireFormat.JSON)) == {
        "resourceType": "Basic",
        "x": 2**70,
        "y": "\ufffd",
    }
