"""The SSL context of the main listener, and the client certificate a request came with."""

from __future__ import annotations

import ssl

from aiohttp import web

from adapters.tls_toolkit import contexts
from gateway.config import Settings

#: RFC 4514 short names of the attributes ``ssl`` spells out (as check-config writes them).
_SHORT = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
}


def listener_context(settings: Settings) -> ssl.SSLContext | None:
    """The main listener's context when ``server.tls`` is set; None serves plain HTTP."""
    tls = settings.server.tls
    if tls is None:
        return None
    return contexts.server_context(
        tls.cert_file, tls.key_file, tls.ca_file, tls.client_cert, settings.base_dir
    )


def client_subject(request: web.Request) -> str | None:
    """The subject (RFC 4514, e.g. ``CN=proxy,O=NHS``) of the verified client certificate.

    None when the client showed none. Only a certificate the listener verified
    against its ``ca_file`` is seen here: ``ssl`` gives no peer certificate for an
    unverified one.
    """
    transport = request.transport
    peer = transport.get_extra_info("peercert") if transport is not None else None
    if not peer:
        return None
    subject = peer.get("subject", ())
    parts = [
        f"{_SHORT.get(name, name)}={value}" for rdn in reversed(subject) for name, value in rdn
    ]
    return ",".join(parts) or None
