"""What the proxy refuses before routing, with the codes of Error-Handling/Failure-
Scenarios-1-1-x/Message-Routing and api/examples/*.json, its own ids echoed."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp

from gateway.bars_proxy import API_ROOT
from tests.bars_proxy.conftest import Proxy


async def _outcome(resp: aiohttp.ClientResponse, status: int, code: str, issue: str) -> str:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/fhir+json"
    body: dict[str, Any] = await resp.json(content_type=None)
    assert body["resourceType"] == "OperationOutcome"
    (only,) = body["issue"]
    assert only["details"]["coding"][0]["code"] == code
    assert only["code"] == issue
    diagnostics: str = only["diagnostics"]
    return diagnostics


async def test_no_token_is_401_send_unauthorized(proxy: Proxy) -> None:
    """No Authorization header: 401 SEND_UNAUTHORIZED, the request's ids mirrored."""
    headers = proxy.bars_headers()
    async with proxy.session.get(f"{proxy.url}{API_ROOT}/metadata", headers=headers) as resp:
        await _outcome(resp, 401, "SEND_UNAUTHORIZED", "unknown")
        assert resp.headers["X-Request-Id"] == headers["X-Request-Id"]
        assert resp.headers["X-Correlation-Id"] == headers["X-Correlation-Id"]


async def test_a_token_never_issued_is_401(proxy: Proxy) -> None:
    """A bearer token the proxy did not issue: 401 SEND_UNAUTHORIZED (security)."""
    resp = await proxy.call("GET", "/metadata", token="made-up")
    await _outcome(resp, 401, "SEND_UNAUTHORIZED", "security")


async def test_an_expired_token_is_403_send_forbidden(proxy: Proxy) -> None:
    """A token past its expires_in: 403 SEND_FORBIDDEN, "Missing or Expired Token"."""
    token = await proxy.token()
    proxy.clock.offset = 600
    resp = await proxy.call("GET", "/metadata", token=token)
    assert "Missing or Expired Token" in await _outcome(resp, 403, "SEND_FORBIDDEN", "expired")


async def test_missing_transaction_ids_are_400_send_bad_request(proxy: Proxy) -> None:
    """No X-Request-Id, or no X-Correlation-Id: 400 SEND_BAD_REQUEST (required)."""
    for name in ("X-Request-Id", "X-Correlation-Id"):
        resp = await proxy.call("GET", "/metadata", **{name: ""})
        assert name in await _outcome(resp, 400, "SEND_BAD_REQUEST", "required")


async def test_a_transaction_id_that_is_no_guid_is_400_proxy_bad_request(proxy: Proxy) -> None:
    """X-Request-Id not a GUID: 400 PROXY_BAD_REQUEST (invalid), the id still mirrored."""
    resp = await proxy.call("GET", "/metadata", **{"X-Request-Id": "not-a-guid"})
    await _outcome(resp, 400, "PROXY_BAD_REQUEST", "invalid")
    assert resp.headers["X-Request-Id"] == "not-a-guid"


async def test_a_missing_target_is_400_send_bad_request(proxy: Proxy) -> None:
    """No NHSD-Target-Identifier: 400 SEND_BAD_REQUEST (required)."""
    resp = await proxy.call("GET", "/metadata", **{"NHSD-Target-Identifier": ""})
    await _outcome(resp, 400, "SEND_BAD_REQUEST", "required")


async def test_a_target_that_is_not_base64_is_400_proxy_bad_request(proxy: Proxy) -> None:
    """api/examples/invalid-base64.json: PROXY_BAD_REQUEST, "base64 decoding ... failed"."""
    resp = await proxy.call("GET", "/metadata", **{"NHSD-Target-Identifier": "%%%not base64"})
    assert "base64 decoding" in await _outcome(resp, 400, "PROXY_BAD_REQUEST", "invalid")


async def test_a_target_of_the_wrong_schema_is_400_structure(proxy: Proxy) -> None:
    """api/examples/malformed-target-identifier.json: PROXY_BAD_REQUEST, structure."""
    for text in (b'{"system": "x"}', b"[1, 2]", b"not json"):
        value = base64.b64encode(text).decode()
        resp = await proxy.call("GET", "/metadata", **{"NHSD-Target-Identifier": value})
        assert "Invalid schema" in await _outcome(resp, 400, "PROXY_BAD_REQUEST", "structure")


async def test_an_unknown_target_is_404_proxy_not_found(proxy: Proxy) -> None:
    """api/examples/proxy-not-found.json: a target not in the catalogue, 404 PROXY_NOT_FOUND."""
    value = base64.b64encode(b'{"system": "https://example.org", "value": "1"}').decode()
    resp = await proxy.call("GET", "/metadata", **{"NHSD-Target-Identifier": value})
    await _outcome(resp, 404, "PROXY_NOT_FOUND", "not-found")


async def test_an_unreachable_receiver_is_503_proxy_unavailable(proxy: Proxy) -> None:
    """The routed receiver refuses connections: 503 PROXY_UNAVAILABLE (transient)."""
    resp = await proxy.call("GET", "/metadata")
    await _outcome(resp, 503, "PROXY_UNAVAILABLE", "transient")
    assert resp.headers["X-Request-Id"]


async def test_a_path_outside_the_api_is_404(proxy: Proxy) -> None:
    """An endpoint the API does not have: 404 PROXY_NOT_FOUND."""
    async with proxy.session.get(f"{proxy.url}/nothing/here") as resp:
        await _outcome(resp, 404, "PROXY_NOT_FOUND", "not-found")


async def test_health_answers_without_a_token(proxy: Proxy) -> None:
    """GET /health is 200 with no token, so a supervisor can tell the proxy is up."""
    async with proxy.session.get(f"{proxy.url}/health") as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "pass"
