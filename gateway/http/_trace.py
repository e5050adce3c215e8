"""The STU3 door's hop of the journey trace: the ids one request carried and its outcome."""

from __future__ import annotations

import re

from aiohttp import web

from gateway.doors import header_id
from gateway.http.exchange import SETTINGS, Exchange
from gateway.trace.recorder import TRACE
from gateway.trace.scope import TraceExchange
from gateway.trace.settings import recorded

_ETAG = re.compile(r'W/"(\d+)"')


def record(
    request: web.Request, response: web.StreamResponse, ex: Exchange, tx: TraceExchange
) -> None:
    """Queue the request's hops (``inbound.stu3.<interaction>``, then its supplier calls)."""
    recorder = request.app.get(TRACE)
    if recorder is None or not recorded(request.app[SETTINGS].trace, ex.interaction):
        return
    etag = _ETAG.fullmatch(response.headers.get("ETag", ""))
    outcome = f"{response.status} {ex.outcome}" if ex.outcome else str(response.status)
    hops = tx.inbound(
        "stu3",
        f"inbound.stu3.{ex.interaction}",
        outcome,
        request_id=ex.client_request_id,
        correlation_id=header_id(request.headers.get("X-Correlation-ID")),
        gateway_request_id=ex.server_request_id,
        ssp_trace_id=ex.trace_id,
        appointment_id=ex.appointment_id,
        appointment_version=etag.group(1) if etag else None,
    )
    recorder.submit(hops)
