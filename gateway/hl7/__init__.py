"""The HL7 v2 MLLP front door: legacy consumers search, book, cancel and rebook over HL7 v2.

DESIGN.md: "a legacy 111 system booking into a national FHIR provider = HL7 v2
front door + national FHIR adapter". This package turns ``SQM^S25`` and
``SRM^S01/S02/S03/S04`` into calls of the one booking service and its answers
into ``SQR^S25``/``SRR`` or an ``ACK`` with AE/AR and ERR; it never knows which
adapter serves a service. Configured by the optional ``hl7_front_door:``
section; off when it is absent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from adapters.hl7_toolkit.tls import TlsOptions
from gateway.hl7.door import FrontDoor
from gateway.hl7.listener import MllpServer
from gateway.hl7.notify import NoticeWorker
from gateway.hl7.tables import load_tables
from gateway.http.exchange import AUDIT, RUNTIME, SETTINGS, STORE
from gateway.trace.recorder import TRACE
from gateway.workers import SERVING

__all__ = [
    "HL7_FRONT_DOOR",
    "HL7_NOTICES",
    "FrontDoor",
    "MllpServer",
    "NoticeWorker",
    "front_door_ctx",
]

HL7_FRONT_DOOR = web.AppKey("hl7_front_door", MllpServer)
#: The outbox worker telling consumers of supplier-side changes (gateway/hl7/notify.py).
HL7_NOTICES = web.AppKey("hl7_notices", NoticeWorker)


async def front_door_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: listen while the app runs, when ``hl7_front_door`` is configured."""
    settings = app[SETTINGS]
    door_settings = settings.hl7_front_door
    if door_settings is None:
        yield
        return
    tables = load_tables(settings.resolve(door_settings.mappings))
    tls = TlsOptions(
        enabled=door_settings.tls.enabled,
        cert_file=door_settings.tls.cert_file,
        key_file=door_settings.tls.key_file,
        ca_file=door_settings.tls.ca_file,
    ).server_context(settings.base_dir)
    door = FrontDoor(app[RUNTIME], app[AUDIT], door_settings, tables, trace=app.get(TRACE))
    server = MllpServer(door.handle, max_frame=door_settings.max_frame_bytes)
    # Under serve --workers N every worker listens on the port (SO_REUSEPORT): connections
    # are spread over them, and each message's effect is idempotent in the shared store.
    shared = SERVING in app
    await server.start(door_settings.host, door_settings.port, tls, reuse_port=shared)
    app[HL7_FRONT_DOOR] = server
    notices = NoticeWorker(app[STORE], app[RUNTIME], door_settings, tables, settings.base_dir)
    await notices.start()
    app[HL7_NOTICES] = notices
    try:
        yield
    finally:
        await notices.close()
        await server.close()
