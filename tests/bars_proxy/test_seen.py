"""GET /_control/requests records what the proxy saw (ids, NHSD-* headers, status; no
bodies), and the proxy's logs carry ids and the target only, never patient data."""

from __future__ import annotations

from structlog.testing import capture_logs

from gateway.examples import EXAMPLE_NHS_NUMBER
from tests.bars.conftest import appointment_body
from tests.bars_proxy.conftest import Recorded, Routed


async def test_requests_records_ids_headers_and_status_but_no_body(recorded: Recorded) -> None:
    """One entry per API request: method, path, query, status, ids, NHSD-*, target; no body."""
    proxy = recorded.proxy
    headers = proxy.bars_headers()
    await proxy.call("POST", "/Appointment?x=1", body={"resourceType": "Appointment"}, **headers)
    await proxy.call("GET", "/Slot", **{"X-Request-Id": ""})
    first, second = await proxy.control("GET", "/requests")
    assert first["method"] == "POST" and first["path"] == "/Appointment"
    assert (first["query"], first["status"], first["forwarded"]) == ("x=1", 200, True)
    assert first["X-Request-Id"] == headers["X-Request-Id"]
    assert first["X-Correlation-Id"] == headers["X-Correlation-Id"]
    nhsd = {k: v for k, v in headers.items() if k.startswith("NHSD-")}
    assert first["headers"] == nhsd
    assert first["target"] == "https://fhir.nhs.uk/Id/dos-service-id|2000099999"
    assert "Appointment\"" not in str(first) and "Authorization" not in str(first)
    assert (second["status"], second["X-Request-Id"], second["forwarded"]) == (400, None, False)
    await proxy.control("DELETE", "/requests")
    assert await proxy.control("GET", "/requests") == []


async def test_logs_name_ids_and_target_never_the_patient(routed: Routed) -> None:
    """A booking through the proxy logs its ids and target; no NHS number, name or token."""
    proxy, door = routed.proxy, routed.doors.bars
    (slot,) = await door.free_slots()
    headers = proxy.bars_headers()
    token = await proxy.token()
    with capture_logs() as logs:
        body = appointment_body(slot)
        resp = await proxy.call("POST", "/Appointment", token=token, body=body, **headers)
        assert resp.status == 201
    answered = [e for e in logs if e["event"] == "proxy_request_answered"]
    assert answered and answered[-1]["request_id"] == headers["X-Request-Id"]
    assert answered[-1]["target"].endswith("|2000099999")
    text = str(logs)
    for secret in (EXAMPLE_NHS_NUMBER, "Chalmers", token, headers["NHSD-End-User-Organisation"]):
        assert secret not in text
