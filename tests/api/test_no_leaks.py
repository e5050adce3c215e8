"""Row 10: no NHS number or JWT in a log line or audit row, whatever a request carries."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.http.exchange import AUDIT, STORE
from tests.api.conftest import (
    NHS_NUMBER,
    READ_APPTS,
    READ_SLOTS,
    SERVICE_ID,
    SERVICE_ROOT_PATH,
    Consumer,
)
from tests.api.test_http_errors import raw_exchange

#: The start of the JWT the tests send: the base64url of its JSON header.
JWT_START = "eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9"


def _leaks(text: str) -> list[str]:
    """The secrets found in ``text``."""
    return [s for s in (NHS_NUMBER, "943 476 5919", JWT_START, "Bearer e") if s in text]


def _logged(caplog: pytest.LogCaptureFixture, events: list[dict[str, Any]]) -> str:
    """All that was logged, stdlib records (message and traceback) and structlog events."""
    records = [f"{r.getMessage()} {r.exc_text or ''} {r.exc_info!r}" for r in caplog.records]
    return "\n".join(records) + repr(events)


@pytest.fixture
def caplog_all(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog at DEBUG for the root and aiohttp loggers."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    return caplog


async def test_row10_parser_errors_log_no_request_line_or_jwt(
    consumer: Consumer, caplog_all: pytest.LogCaptureFixture
) -> None:
    """Row 10: an unparseable request line with an NHS number, a 20 KB JWT: neither is logged."""
    search = f"{SERVICE_ROOT_PATH}/Appointment?patient:identifier=x|{NHS_NUMBER}"
    token = f"{JWT_START}.{'e' * 20_000}.sig"
    requests = (
        f"GET {search}&\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        f"GET {search} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
        f"GET {search} HTTP/1.1\r\nHost: x\r\nX-Note: 943 476 5919\r\n{'X' * 20_000}\r\n\r\n",
    )
    with capture_logs() as events:
        for request in requests:
            status, _, _ = await raw_exchange(consumer, request.encode("latin-1"))
            assert status == 400
    assert not _leaks(_logged(caplog_all, events))
    unreadable = [e for e in events if e["event"] == "http_request_unreadable"]
    assert len(unreadable) == len(requests), "each refusal is logged, without its bytes"


async def test_row10_access_log_masks_the_patient_search(
    consumer: Consumer, caplog_all: pytest.LogCaptureFixture
) -> None:
    """Row 10: aiohttp's access log line of a patient search holds no NHS number."""
    resp = await consumer.read(
        f"Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"
    )
    assert resp.status == 200
    access = [r for r in caplog_all.records if r.name == "aiohttp.access"]
    assert access, "the test server writes an access log"
    assert "[nhs-number]" in access[-1].getMessage()
    assert not _leaks(_logged(caplog_all, []))


async def test_row10_audit_rows_keep_no_nhs_number_from_the_request(consumer: Consumer) -> None:
    """Row 10: service=, ids and X-Request-ID holding an NHS number are not audited verbatim."""
    hdrs = consumer.headers(READ_SLOTS, "read:slot")
    for service in (NHS_NUMBER, f"https://x|{NHS_NUMBER}"):
        resp = await consumer.client.get(
            f"{SERVICE_ROOT_PATH}/Slot?service={service}",
            headers={**hdrs, "X-Request-ID": f"call-{NHS_NUMBER}"},
        )
        assert resp.status == 404, await resp.text()
    read = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Appointment/{NHS_NUMBER}",
        headers=consumer.headers(READ_APPTS, "read:appointment"),
    )
    assert read.status == 404
    assert (await consumer.search()).status == 200
    await consumer.client.app[AUDIT].flush()
    entries = await consumer.client.app[STORE].audit_entries(20)
    assert len(entries) >= 4
    assert not _leaks(repr(entries))
    searches = [e for e in entries if e.interaction == "slot_search"]
    assert {e.service_id for e in searches} & {SERVICE_ID}, "a served service id is kept"
    assert any((e.service_id or "").startswith("sha256:") for e in searches)
