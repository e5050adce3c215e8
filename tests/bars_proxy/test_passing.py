"""What the proxy passes on and back (End-to-end-workflow/Routing), seen by a recording
receiver: everything as sent, except the sender's token (Security-and-Authorisation/
Receiver: the receiver knows the proxy by TLS-MA, not by the sender's token)."""

from __future__ import annotations

import time

from tests.bars_proxy.conftest import Recorded


async def test_method_path_query_body_and_headers_reach_the_receiver(recorded: Recorded) -> None:
    """POST $process-message: path below the root, query, body bytes, NHSD-*/X-* as sent."""
    proxy, rx = recorded.proxy, recorded.receiver
    headers = proxy.bars_headers(**{"X-Extra": "kept", "use-context": "a|b|c|new"})
    body = {"resourceType": "Bundle"}
    resp = await proxy.call("POST", "/$process-message?a=1&a=2&b=%7C", body=body, **headers)
    assert resp.status == 200
    (heard,) = rx.heard
    assert heard.method == "POST"
    assert heard.path_qs == "/rx/FHIR/R4/$process-message?a=1&a=2&b=%7C"
    assert heard.body == b'{"resourceType": "Bundle"}'
    for name, value in headers.items():
        assert heard.headers[name] == value, name
    assert heard.headers["Content-Type"] == "application/fhir+json"


async def test_the_senders_token_is_not_forwarded(recorded: Recorded) -> None:
    """The receiver never sees the Authorization header the proxy checked."""
    await recorded.proxy.call("GET", "/Slot")
    (heard,) = recorded.receiver.heard
    assert "Authorization" not in heard.headers


async def test_the_receivers_answer_comes_back_unchanged(recorded: Recorded) -> None:
    """A 409 with its body and headers: status, body, ETag, Content-Type as the receiver sent."""
    rx = recorded.receiver
    rx.status, rx.body = 409, b'{"resourceType": "OperationOutcome", "issue": []}'
    rx.headers = {"Content-Type": "application/fhir+json", "Retry-After": "7", "ETag": 'W/"2"'}
    resp = await recorded.proxy.call("GET", "/Appointment/abc")
    assert resp.status == 409
    assert await resp.read() == rx.body
    assert (resp.headers["Retry-After"], resp.headers["ETag"]) == ("7", 'W/"2"')
    assert resp.content_type == "application/fhir+json"


async def test_ids_are_echoed_when_the_receiver_leaves_them_out(recorded: Recorded) -> None:
    """The receiver mirrors nothing: the proxy's answer still carries the request's ids."""
    headers = recorded.proxy.bars_headers()
    resp = await recorded.proxy.call("GET", "/Slot", **headers)
    assert resp.headers["X-Request-Id"] == headers["X-Request-Id"]
    assert resp.headers["X-Correlation-Id"] == headers["X-Correlation-Id"]


async def test_a_receiver_slower_than_the_timeout_is_504_proxy_timeout(recorded: Recorded) -> None:
    """receiver_timeout_s (1s here) passes with no answer: 504 PROXY_TIMEOUT."""
    recorded.receiver.delay_s = 1.5
    started = time.monotonic()
    resp = await recorded.proxy.call("GET", "/Slot")
    assert resp.status == 504
    body = await resp.json(content_type=None)
    assert body["issue"][0]["details"]["coding"][0]["code"] == "PROXY_TIMEOUT"
    assert time.monotonic() - started < 1.45
