"""``GET /admin/trace/{id}`` (admin token) and the recorder's place in the app's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from gateway.http.exchange import SETTINGS, STORE
from gateway.journeys import authorised
from gateway.store import StoreUnavailable
from gateway.store.trace import AmbiguousId
from gateway.trace.recorder import TRACE, TraceRecorder
from gateway.trace.scope import MAX_ID
from gateway.trace.view import journey_json

log = structlog.get_logger(__name__)

_HEADERS = {"Cache-Control": "no-store"}


async def recorder_ctx(app: web.Application) -> AsyncIterator[None]:
    """This process's recorder: started after the store opens, flushed before it closes."""
    recorder = app[TRACE] = TraceRecorder(app[STORE], app[SETTINGS].trace)
    await recorder.start()
    try:
        yield
    finally:
        await recorder.close()


async def trace(request: web.Request) -> web.Response:
    """The whole journey any one of its ids (or its journey id) finds, as JSON."""
    if not authorised(request):
        return web.json_response({"error": "admin token required"}, status=403, headers=_HEADERS)
    value = request.match_info["id"]
    if not value or len(value) > MAX_ID:
        reason = f"an id is 1 to {MAX_ID} characters"
        return web.json_response({"error": reason}, status=400, headers=_HEADERS)
    recorder = request.app.get(TRACE)
    if recorder is not None:
        await recorder.flush()  # what this process has queued is part of the answer
    try:
        journey = await request.app[STORE].find_journey(value)
    except AmbiguousId as exc:
        body = {"error": "ambiguous id; ask for one of the journeys", "journeys": exc.journeys}
        return web.json_response(body, status=409, headers=_HEADERS)
    except StoreUnavailable:
        log.warning("store_unavailable")
        return web.json_response({"error": "store unavailable"}, status=503, headers=_HEADERS)
    if journey is None:
        return web.json_response({"error": "no journey has this id"}, status=404, headers=_HEADERS)
    return web.json_response(journey_json(journey), headers=_HEADERS)
