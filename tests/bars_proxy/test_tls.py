"""The proxy reaches a receiver over mutual TLS (Security-and-Authorisation/Receiver: BaRS
uses TLS-MA towards receiving endpoints): the gateway's BaRS door with ``bars.tls``."""

from __future__ import annotations

from tests.bars.conftest import DOS, DOS_ID
from tests.bars.test_tls import Tls, tls
from tests.bars_proxy.conftest import StartProxy

__all__ = ["tls"]


async def test_the_proxy_calls_an_mtls_door_with_its_certificate(
    tls: Tls, start_proxy: StartProxy
) -> None:
    """With a certificate from the door's CA the call is served; without one it is refused."""
    cert, key = tls.proxy_ca.issue("proxy", server=False)
    route = {f"{DOS}|{DOS_ID}": tls.url("")}
    proxy = await start_proxy(
        routes=route,
        tls={"cert_file": cert, "key_file": key, "ca_file": tls.server_ca.ca_file},
    )
    proxy.bars_headers = tls.sender.headers
    resp = await proxy.call("GET", "/metadata")
    assert resp.status == 200, await resp.text()
    assert (await resp.json(content_type=None))["resourceType"] == "CapabilityStatement"

    other_cert, other_key = tls.other_ca.issue("stranger", server=False)
    stranger = await start_proxy(
        routes=route,
        tls={"cert_file": other_cert, "key_file": other_key, "ca_file": tls.server_ca.ca_file},
    )
    stranger.bars_headers = tls.sender.headers
    refused = await stranger.call("GET", "/metadata")
    assert refused.status == 503  # the door refused the handshake: PROXY_UNAVAILABLE
