"""The self-test reports non-conformance as FAIL lines and exit 1, and cleans up on failure."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import yarl
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.security.tokens import mint_token
from tests.selftest.backends import (
    BACKENDS,
    REST_KEY,
    REST_KEY_ENV,
    SOAP_PASSWORD,
    SOAP_PASSWORD_ENV,
    Target,
)
from tests.selftest.test_backends import CLOSING, selftest, target_args

CAPABILITIES = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "fhirVersion": "3.0.1",
    "acceptUnknown": "both",
    "format": ["application/fhir+json"],
}
FHIR_HEADERS = {
    "Content-Type": "application/fhir+json;charset=utf-8",
    "Cache-Control": "no-store",
}


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REST_KEY_ENV, REST_KEY)
    monkeypatch.setenv(SOAP_PASSWORD_ENV, SOAP_PASSWORD)


async def _metadata_only(request: web.Request) -> web.Response:
    """A provider whose capability statement is right but that echoes no X-Correlation-ID."""
    if request.path.endswith("/metadata"):
        headers = {**FHIR_HEADERS, "X-Request-ID": str(uuid.uuid4())}
        return web.Response(body=json.dumps(CAPABILITIES).encode(), headers=headers)
    return web.Response(status=404, text="not here")


@pytest.fixture
async def non_conformant(unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[str]:
    """A tiny aiohttp server on 127.0.0.1 that is no NHS Booking API provider."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _metadata_only)
    server = TestServer(app, host="127.0.0.1", port=unused_tcp_port_factory())
    await server.start_server()
    yield str(server.make_url("/STU3/1/careconnect/appointment"))
    await server.close()


async def test_non_conformant_server_is_reported_fail_with_exit_1(non_conformant: str) -> None:
    """What the server gets right is PASS, what it gets wrong FAIL with expected vs seen; exit 1."""
    code, out, _ = await selftest("--target", non_conformant, "--service", "918999198999")
    lines = out.strip().splitlines()
    assert code == 1
    pages = "capabilitystatement.md, implementation_api.md"
    assert f"PASS metadata-capability-statement — {pages}" in lines
    assert any(
        re.fullmatch(
            r"FAIL xti-correlation-id — expected X-Correlation-ID 'selftest-[0-9a-f-]+', "
            r"saw None \(fs_xti\.md\)",
            line,
        )
        for line in lines
    ), out
    assert "FAIL book-201 — needs at least 1 free slot" in out
    assert (
        "FAIL format-accept-xml — XML is not declared: expected 415, "
        "saw 200 CapabilityStatement (implementation_api.md)"
    ) in lines
    counted = CLOSING.match(lines[-1])
    assert counted and int(counted[2]) == sum(x.startswith("FAIL ") for x in lines) > 30
    assert "unexpected reply" not in out, "every failure says what was expected and seen"


async def test_unreachable_target_and_usage_errors_exit_2(
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    """A target that does not answer, or a missing option: exit 2 and a message, no report."""
    port = unused_tcp_port_factory()
    code, out, err = await selftest("--target", f"http://127.0.0.1:{port}/x", "--service", "1")
    assert (code, out) == (2, "")
    assert "the target does not answer" in err
    code, out, err = await selftest("--target", "http://127.0.0.1:1/x")
    assert (code, out) == (2, "")
    assert "--service" in err
    code, _, err = await selftest("--target", "ftp://example.invalid/x", "--service", "1")
    assert code == 2 and "--target must be an http(s) URL" in err


#: Hop-by-hop and length headers a pass-through proxy must not copy.
HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


async def _forward(
    request: web.Request, session: aiohttp.ClientSession, upstream: str
) -> web.Response:
    if request.method == "PUT" and request.headers.get("X-Request-ID", "").startswith(
        "selftest-cancel-"
    ):
        return web.Response(status=500, text="cancel lost on the way")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    async with session.request(
        request.method,
        yarl_url(upstream + request.raw_path),
        headers=headers,
        data=await request.read(),
        skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
    ) as resp:
        body = await resp.read()
        copied = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
        return web.Response(status=resp.status, body=body, headers=copied)


def yarl_url(text: str) -> yarl.URL:
    return yarl.URL(text, encoded=True)


async def _booked_left(target: Target) -> list[str]:
    """Ids of the demo patient's appointments still booked at the gateway itself."""
    token = mint_token(scope="patient/appointment.read", audience=target.url)
    url = (
        f"{target.url}/Appointment?patient:identifier="
        f"https://fhir.nhs.uk/Id/nhs-number%7C{EXAMPLE_NHS_NUMBER}"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(yarl_url(url), headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        assert resp.status == 200, await resp.text()
        bundle = await resp.json(content_type=None)
    return [
        e["resource"]["id"]
        for e in bundle.get("entry") or []
        if e["resource"].get("status") == "booked"
    ]


async def test_cleanup_cancels_what_it_booked_even_when_its_cancel_check_fails(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """A proxy loses the run's cancel: cancel-200 FAILs, yet no booking is left behind."""
    async with (
        BACKENDS["embedded"](tmp_path, unused_tcp_port_factory) as target,
        aiohttp.ClientSession(auto_decompress=False) as session,
    ):
        origin = target.url.split("/STU3/")[0]

        async def forward(request: web.Request) -> web.Response:
            return await _forward(request, session, origin)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        proxy = TestServer(app, host="127.0.0.1", port=unused_tcp_port_factory())
        await proxy.start_server()
        try:
            args = target_args(target)
            args[1] = str(proxy.make_url("/STU3/1/careconnect/appointment"))
            code, out, _ = await selftest(*args, "--audience", target.url)
        finally:
            await proxy.close()
        lines = out.splitlines()
        assert code == 1
        assert any(line.startswith("FAIL cancel-200 — expected 200") for line in lines), out
        assert "PASS book-201 — book_an_appointment.md" in lines
        assert "PASS cleanup-cancels-every-booking — cancel_an_appointment.md" in lines
        assert await _booked_left(target) == []
