"""Rows 10, 11 under `uec-gateway serve`: unparseable requests answered in FHIR, logged in JSON."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from tests.integration.test_serve_startup import _config, _serving

NHS_NUMBER = "9434765919"
JWT_START = "eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9"


async def _send(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_serve_answers_parser_errors_in_fhir_and_logs_one_json_line_each(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """Rows 10, 11: a bad request line and a 20 KB JWT: 400 OperationOutcome, JSON logs, no leak."""
    config = _config(tmp_path, fmt="format: console=>format: json")
    _, proc = await _serving(config, unused_tcp_port, "stdout")
    search = f"/STU3/1/careconnect/appointment/Appointment?patient:identifier=x|{NHS_NUMBER}"
    token = f"{JWT_START}.{'e' * 20_000}"
    requests = (
        f"GET {search}&\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET {search} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
    )
    try:
        for request in requests:
            answer = await _send(unused_tcp_port, request.encode("latin-1"))
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b" ", 2)[1] == b"400", head
            assert b"application/fhir+json" in head
            assert json.loads(body)["resourceType"] == "OperationOutcome"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert [e["status"] for e in lines if e["event"] == "http_request_unreadable"] == [400, 400]
    text = out.decode() + err.decode()
    for secret in (NHS_NUMBER, JWT_START, "Traceback"):
        assert secret not in text
