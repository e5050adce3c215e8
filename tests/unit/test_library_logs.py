"""Row 10: aiohttp's own log records are masked and rendered as the gateway's JSON lines."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from gateway import logs

NHS_NUMBER = "9434765919"
JWT = "eyJhbGciOiJSUzUxMiJ9.eyJzdWIiOiIxIn0.c2ln"


def test_aiohttp_server_errors_are_one_masked_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Row 10: a multi-line aiohttp.server error with a request line and JWT is one JSON line."""
    logs.configure("json", "info")
    try:
        try:
            raise ValueError(
                f"GET /x?patient:identifier=|{NHS_NUMBER}\nAuthorization: Bearer {JWT}"
            )
        except ValueError:
            logging.getLogger("aiohttp.server").exception("Error handling request from %s", "h")
        logging.getLogger("aiohttp.access").info('"GET /Slot?service=%s HTTP/1.1"', NHS_NUMBER)
        out = capsys.readouterr().out
    finally:
        structlog.reset_defaults()
    lines = out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["logger"] for r in records] == ["aiohttp.server", "aiohttp.access"]
    assert records[0]["level"] == "error" and "ValueError" in records[0]["exception"]
    assert NHS_NUMBER not in out and "eyJ" not in out
    assert "[nhs-number]" in records[1]["event"]


def test_masking_covers_tokens_and_spaced_nhs_numbers() -> None:
    """The mask hides bearer tokens, bare JWTs and NHS numbers written with spaces."""
    text = f"Bearer abc.def x {JWT} y 943 476 5919 z 1234567890"
    masked = logs.mask_identifiers(text)
    assert masked == "[credential] x [credential] y [nhs-number] z 1234567890"
