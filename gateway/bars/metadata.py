"""``GET /metadata``: the R4 CapabilityStatement of what the routed adapters can do."""

from __future__ import annotations

from aiohttp import web

from adapters.domain import utcnow
from gateway.bars import messaging
from gateway.bars.capability import capability_statement
from gateway.bars.exchange import BARS
from gateway.bars.requests import answer, base, begin
from gateway.http.exchange import VERSION


async def metadata(request: web.Request) -> web.Response:
    ex = begin(request, "metadata", target=False)
    adapters = list(ex.current.adapters.values())
    if ex.service_id is not None:
        route = ex.current.router.for_service(ex.service_id)
        adapters = [route.adapter] if route else []
    statement = capability_statement(
        (a.capabilities for a in adapters),
        service_root=base(request),
        software_version=request.config_dict[VERSION],
        core_version=request.config_dict[BARS].core_version,
        now=utcnow(),
        messages=[d.url for d in messaging.definitions()],
        mutual_tls=request.config_dict[BARS].tls.enabled,
    )
    return await answer(statement, ex)
