"""The BaRS door's own mTLS listener (``bars.tls``), started with the gateway.

core/Security-and-Authorisation/Receiver: the national proxy reaches a receiver
over mutual TLS. With ``bars.tls.enabled`` the door is not mounted on the plain
STU3 listener at all; it is served on ``bars.tls.host:port``, whose handshake
requires a client certificate signed by ``bars.tls.ca_file``. The listener's
application holds only the door, over the main application's store, runtime and
audit trail, so a booking is the same booking whichever listener took it.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from adapters.tls_toolkit import contexts
from adapters.tls_toolkit.contexts import ClientCert
from gateway.bars import door
from gateway.config import BarsTlsSettings
from gateway.http.exchange import AUDIT, KEYS, RUNTIME, SETTINGS, STORE, VERSION
from gateway.http.server import GatewayRunner
from gateway.metrics.web import METRICS, metrics_middleware
from gateway.trace.recorder import TRACE
from gateway.workers import SERVING

log = structlog.get_logger("gateway.bars")


def server_context(tls: BarsTlsSettings, base_dir: Path) -> ssl.SSLContext:
    """The listener's TLS context: our chain, and client certificates required."""
    if tls.cert_file is None:  # pragma: no cover (BarsTlsSettings demands it when enabled)
        raise ValueError("bars.tls needs cert_file")
    return contexts.server_context(
        tls.cert_file, tls.key_file, tls.ca_file, ClientCert.REQUIRED, base_dir
    )


async def tls_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    """Serve the door over mTLS while the gateway runs (a cleanup_ctx after the runtime's)."""
    settings = app[SETTINGS]
    bars = settings.bars
    if bars is None or not bars.tls.enabled:
        yield
        return
    context = server_context(bars.tls, settings.base_dir)
    outer = web.Application(
        middlewares=[metrics_middleware], client_max_size=settings.server.max_body_bytes
    )
    outer[SETTINGS], outer[VERSION], outer[KEYS] = settings, app[VERSION], app[KEYS]
    outer[STORE], outer[AUDIT], outer[RUNTIME] = app[STORE], app[AUDIT], app[RUNTIME]
    # Counted in the gateway's /metrics and traced in its journeys, as on the main listener.
    if METRICS in app:
        outer[METRICS] = app[METRICS]
    if TRACE in app:
        outer[TRACE] = app[TRACE]
    outer.add_subapp(bars.base_path, door.create(settings))
    runner = GatewayRunner(outer, access_log=None)
    await runner.setup()
    try:
        # Under serve --workers N every worker listens on the port (SO_REUSEPORT).
        shared = True if SERVING in app else None
        site = web.TCPSite(
            runner, bars.tls.host, bars.tls.port, ssl_context=context, reuse_port=shared
        )
        await site.start()
        log.info("bars_tls_listener_started", host=bars.tls.host, port=bars.tls.port)
        yield
    finally:
        await runner.cleanup()
