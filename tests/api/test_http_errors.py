"""Requests aiohttp's parser refuses, and bodies it cannot decode: 4xx OperationOutcomes."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from typing import Any

from aiohttp import ClientResponse

from gateway.http.exchange import AUDIT, STORE
from tests.api.conftest import READ_SLOTS, SERVICE_ROOT_PATH, Consumer, booking_body
from tests.api.test_malformed_requests import later_slot, outcome_of

#: The most a refused request may take to be answered (it must never hang).
BUDGET_S = 5.0


async def raw_exchange(consumer: Consumer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes on a fresh connection; the status, headers and body answered."""
    port = consumer.client.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), BUDGET_S)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def fhir_outcome(status: int, headers: dict[str, str], body: bytes, what: str) -> dict[str, Any]:
    """A 4xx whose body is a FHIR JSON OperationOutcome; that outcome."""
    assert 400 <= status < 500, (what, status, body[:200])
    assert headers.get("content-type", "").startswith("application/fhir+json"), (what, headers)
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    outcome: dict[str, Any] = json.loads(body)
    assert outcome["resourceType"] == "OperationOutcome", what
    assert outcome["id"] and outcome["issue"][0]["diagnostics"], what
    return outcome


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        out, body = out + rest[:length], rest[length + 2 :]
    return out


def _get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def test_row11_unparseable_requests_get_an_operation_outcome(consumer: Consumer) -> None:
    """Row 11: bad URL bytes, huge or too many headers, TE with CL, bad chunks: 4xx FHIR JSON."""
    slots = f"{SERVICE_ROOT_PATH}/Slot?service=918999198999"
    cases = {
        "a control character in the URL": _get(f"{slots}&x=\x01\x7f"),
        "a space in the URL": _get(f"{SERVICE_ROOT_PATH}/Slot?service=9189 99198999 x"),
        "a 20,000-byte Authorization header": _get(slots, "Authorization: Bearer " + "e" * 20_000),
        "200 headers": _get(slots, *(f"X-Extra-{n}: {n}" for n in range(200))),
        "a 9,000-byte URL": _get(f"{slots}&q={'9' * 9000}"),
        "Transfer-Encoding with Content-Length": (
            f"POST {SERVICE_ROOT_PATH}/Appointment HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/fhir+json\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ).encode(),
        "bad chunk sizes": (
            f"POST {SERVICE_ROOT_PATH}/Appointment HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n"
            "zz\r\n{}\r\n0\r\n\r\n"
        ).encode(),
        "a header without a colon": _get(slots, "NoColonHere"),
        "not HTTP at all": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    }
    for what, request in cases.items():
        status, headers, body = await raw_exchange(consumer, request)
        fhir_outcome(status, headers, body, what)


async def test_row11_oversize_lines_say_which_limit(consumer: Consumer) -> None:
    """Row 11: a header beyond 16 KiB, a request line beyond 8,190 bytes: 400 naming the limit."""
    slots = f"{SERVICE_ROOT_PATH}/Slot?service=918999198999"
    status, headers, body = await raw_exchange(consumer, _get(slots, "X-Big: " + "h" * 17_000))
    assert status == 400
    assert "16384" in fhir_outcome(status, headers, body, "big header")["issue"][0]["diagnostics"]
    status, headers, body = await raw_exchange(consumer, _get(f"{slots}&q={'9' * 9000}"))
    assert status == 400
    assert "8190" in fhir_outcome(status, headers, body, "long URL")["issue"][0]["diagnostics"]


async def test_row11_a_large_jwt_under_16_kib_reaches_the_jwt_check(consumer: Consumer) -> None:
    """Row 11: a 10,000-byte bearer token is judged by the JWT check (403/400), not the parser."""
    token = "eyJhbGciOiJub25lIn0." + "e" * 10_000 + "."
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service=918999198999",
        headers={**consumer.headers(READ_SLOTS, "read:slot"), "Authorization": f"Bearer {token}"},
    )
    outcome = await resp.json(content_type=None)
    assert resp.status in (400, 403) and outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "security"


async def _post_encoded(consumer: Consumer, data: bytes, encoding: str) -> ClientResponse:
    headers = {
        **consumer.headers("patient/appointment.write", "create:appointment"),
        "Content-Type": "application/fhir+json",
        "Content-Encoding": encoding,
        "Connection": "close",
    }
    return await consumer.client.post(
        f"{SERVICE_ROOT_PATH}/Appointment", data=data, headers=headers
    )


async def test_row7_bodies_that_are_not_what_their_content_encoding_says_are_400(
    consumer: Consumer,
) -> None:
    """Row 7: a plain body sent as gzip, a corrupt deflate or br body is 400, and books nothing."""
    body = booking_body(await later_slot(consumer))
    plain = json.dumps(body).encode()
    corrupt = {
        "gzip": plain,
        "deflate": b"\x78\x9c" + plain,
        "br": b"\xff\xfe" + plain,
    }
    for encoding, data in corrupt.items():
        outcome = await outcome_of(await _post_encoded(consumer, data, encoding), 400)
        assert "cannot be decoded" in outcome["issue"][0]["diagnostics"], encoding
    resp = await _post_encoded(consumer, zlib.compress(plain), "deflate")
    assert resp.status == 201, "a sound deflate body books (nothing was taken before)"
    again = await _post_encoded(consumer, gzip.compress(plain), "gzip")
    assert again.status == 422, "a sound gzip body is read: that slot is no longer free"


async def test_row7_an_unknown_content_encoding_is_415(consumer: Consumer) -> None:
    """Row 7: Content-Encoding the gateway cannot undo (e.g. 'compress') is 415, not 500."""
    plain = json.dumps(booking_body(await later_slot(consumer))).encode()
    outcome = await outcome_of(await _post_encoded(consumer, plain, "compress"), 415)
    assert "compress" in outcome["issue"][0]["diagnostics"]


async def test_a_header_byte_that_is_not_utf8_is_echoed_escaped_not_500(
    consumer: Consumer,
) -> None:
    """Found by fuzzing: If-Match b'\\x80' is 409 with the byte escaped in diagnostics, not 500."""
    booked = await (await consumer.book(booking_body(await later_slot(consumer)))).json()
    body = json.dumps({**booked, "status": "cancelled"}).encode()
    headers = consumer.headers("patient/appointment.write", "update:appointment")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        (
            f"PUT {SERVICE_ROOT_PATH}/Appointment/{booked['id']} HTTP/1.1\r\nHost: x\r\n{head}"
            f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n"
        ).encode()
        + b"If-Match: \x80\r\n\r\n"
        + body
    )
    status, answer_headers, answer = await raw_exchange(consumer, request)
    outcome = fhir_outcome(status, answer_headers, answer, "If-Match \\x80")
    assert status == 409
    assert "\\udc80" in outcome["issue"][0]["diagnostics"]


async def test_ids_in_headers_with_bytes_that_are_not_utf8_are_kept_escaped(
    consumer: Consumer,
) -> None:
    """Found by fuzzing: Ssp-From/X-Request-ID b'\\x80' books (201), audited and echoed escaped."""
    body = json.dumps(booking_body(await later_slot(consumer))).encode()
    headers = consumer.headers("patient/appointment.write", "create:appointment")
    del headers["Ssp-From"], headers["X-Request-ID"]
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        (
            f"POST {SERVICE_ROOT_PATH}/Appointment HTTP/1.1\r\nHost: x\r\n{head}"
            f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n"
        ).encode()
        + b"Ssp-From: 2000\x80\r\nX-Request-ID: r-\x80\r\n\r\n"
        + body
    )
    status, answer_headers, _ = await raw_exchange(consumer, request)
    assert status == 201
    assert answer_headers["x-correlation-id"] == "r-\\udc80"
    await consumer.client.app[AUDIT].flush()
    (entry,) = [e for e in await consumer.client.app[STORE].audit_entries(10) if e.status == 201]
    assert (entry.correlation_id, entry.consumer_asid) == ("r-\\udc80", "2000\\udc80")
