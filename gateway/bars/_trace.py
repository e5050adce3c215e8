"""The BaRS door's hop of the journey trace: the ids one request carried and its outcome."""

from __future__ import annotations

import re

from aiohttp import web

from gateway.bars.exchange import BarsExchange
from gateway.trace.recorder import TRACE
from gateway.trace.scope import TraceExchange

_ETAG = re.compile(r'W/"(\d+)"')


def record(
    request: web.Request, response: web.StreamResponse, ex: BarsExchange, tx: TraceExchange
) -> None:
    """Queue the request's hops (``inbound.bars.<interaction>``, then its supplier calls)."""
    recorder = request.config_dict.get(TRACE)
    if recorder is None:
        return
    etag = _ETAG.fullmatch(response.headers.get("ETag", ""))
    outcome = f"{response.status} {ex.outcome}" if ex.outcome else str(response.status)
    hops = tx.inbound(
        "bars",
        f"inbound.bars.{ex.interaction}",
        outcome,
        request_id=ex.request_id,
        correlation_id=ex.correlation_id,
        gateway_request_id=ex.outcome_id,
        appointment_id=ex.appointment_id,
        appointment_version=etag.group(1) if etag else None,
    )
    recorder.submit(hops)
