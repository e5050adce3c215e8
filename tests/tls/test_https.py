"""HTTPS on the main listener (``server.tls``): slot search over TLS, and client certificates
asked for (``optional``) or demanded (``required``), verified against ``ca_file``."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.config import load as load_config
from gateway.tls.listeners import client_subject, listener_context
from tests.api.conftest import Consumer, write_config
from tests.tls.conftest import Https, Pki, add_server_tls, tls_options

REFUSED = (aiohttp.ClientError, ssl.SSLError, ConnectionError)


async def _slots_found(consumer: Consumer) -> None:
    resp = await consumer.search()
    assert resp.status == 200, await resp.text()
    assert resp.url.scheme == "https"
    bundle = await resp.json(content_type=None)
    assert any(e["resource"]["resourceType"] == "Slot" for e in bundle["entry"])


async def _refused(consumer: Consumer) -> None:
    with pytest.raises(REFUSED):
        resp = await consumer.search()
        await resp.read()


async def test_slot_search_over_https(https: Https, pki: Pki) -> None:
    """With server.tls set the listener speaks HTTPS: a client trusting our CA finds slots."""
    consumer = await https()
    await _slots_found(consumer(pki.client_context()))


async def test_a_client_that_does_not_trust_the_gateway_refuses_it(https: Https, pki: Pki) -> None:
    """The gateway shows the configured certificate: a client trusting only the rogue CA stops."""
    consumer = await https()
    await _refused(consumer(ssl.create_default_context(cafile=str(pki.rogue.ca_file))))


async def test_plain_http_to_the_https_listener_gets_no_answer(https: Https, pki: Pki) -> None:
    """HTTP without TLS to the HTTPS port is not served."""
    consumer = await https()
    client = consumer(pki.client_context()).client
    url = str(client.make_url("/health")).replace("https:", "http:")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(url) as resp:
                await resp.read()


async def test_client_cert_required_serves_a_certificate_from_the_ca(
    https: Https, pki: Pki
) -> None:
    """client_cert required: a client certificate signed by ca_file gets slots."""
    consumer = await https("required")
    await _slots_found(consumer(pki.client_context(pki.client)))


@pytest.mark.parametrize("shown", ["no certificate", "another CA's"])
async def test_client_cert_required_refuses_others_at_the_handshake(
    https: Https, pki: Pki, shown: str
) -> None:
    """client_cert required: no certificate, or one from another CA, fails the handshake."""
    consumer = await https("required")
    stranger = None if shown == "no certificate" else pki.stranger
    await _refused(consumer(pki.client_context(stranger)))


async def test_client_cert_optional_serves_a_client_without_one(https: Https, pki: Pki) -> None:
    """client_cert optional: a client showing no certificate is served."""
    consumer = await https("optional")
    await _slots_found(consumer(pki.client_context()))


async def test_client_cert_optional_refuses_a_certificate_from_another_ca(
    https: Https, pki: Pki
) -> None:
    """client_cert optional: a certificate shown is verified; another CA's fails the handshake."""
    consumer = await https("optional")
    await _refused(consumer(pki.client_context(pki.stranger)))
    await _slots_found(consumer(pki.client_context(pki.client)))


async def test_a_handler_sees_the_verified_client_certificate_subject(
    tmp_path: Path, pki: Pki, unused_tcp_port: int
) -> None:
    """client_subject(request): the subject of a verified client certificate, None without one."""
    config = add_server_tls(write_config(tmp_path, unused_tcp_port), tls_options(pki, "optional"))
    settings = load_config(config)

    async def whoami(request: web.Request) -> web.Response:
        return web.Response(text=client_subject(request) or "-")

    app = web.Application()
    app.router.add_get("/whoami", whoami)
    server = TestServer(app, host="127.0.0.1", port=unused_tcp_port)
    await server.start_server(ssl=listener_context(settings))
    try:
        seen = []
        for shown in (pki.client, None):
            connector = aiohttp.TCPConnector(ssl=pki.client_context(shown), force_close=True)
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                session.get(str(server.make_url("/whoami"))) as resp,
            ):
                seen.append(await resp.text())
    finally:
        await server.close()
    assert seen == ["CN=consumer-111", "-"]
