"""A mock of the national BaRS proxy and its OAuth 2.0 token endpoint (``simulate bars-proxy``).

For tests, demos and integrators: a BaRS sender gets a token with a signed-JWT client
assertion, then calls the API root; the proxy checks what the real one checks, routes
by ``NHSD-Target-Identifier`` to a configured receiver and injects the proxy's errors
on demand. ``app.create_app(ProxySettings(...))`` runs it in-process.
"""

from gateway.bars_proxy.settings import API_ROOT, TOKEN_PATH, ClientTls, ProxySettings

__all__ = ["API_ROOT", "TOKEN_PATH", "ClientTls", "ProxySettings"]
