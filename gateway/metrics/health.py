"""``/health/live`` (the process answers) and ``/health/ready`` (it can serve traffic).

Ready means the store answers within ``metrics.store_timeout_s`` and every
configured route's adapter reports itself healthy. The body names the store's
state, each route's adapter state, the mapping generation and the build; no
patient data and no authentication, as load balancers call it. The older
``/health`` (gateway/app.py) is left exactly as it was.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from adapters.contract import Health
from gateway.http.exchange import RUNTIME, SETTINGS, STORE
from gateway.metrics import build
from gateway.runtime import Generation
from gateway.store import Store

log = structlog.get_logger(__name__)
STARTED = web.AppKey("started", datetime)
_NO_STORE = {"Cache-Control": "no-store"}
#: An appointment id no booking has: reading it is the cheapest round trip to the store.
_PROBE_ID = "00000000-0000-0000-0000-health-probe"


async def live(request: web.Request) -> web.Response:
    """200 while the process serves requests; it asks nothing of any dependency."""
    return web.json_response({"status": "pass"}, headers=_NO_STORE)


async def _store_state(store: Store, timeout_s: float) -> dict[str, Any]:
    try:
        async with asyncio.timeout(timeout_s):
            await store.get(_PROBE_ID)
    except Exception as exc:
        log.warning("store_unready", error=type(exc).__name__)
        return {"ok": False, "detail": type(exc).__name__}
    return {"ok": True}


async def _adapter_state(generation: Generation) -> dict[str, Health]:
    states: dict[str, Health] = {}
    for name, adapter in generation.adapters.items():
        try:
            states[name] = await adapter.health()
        except Exception as exc:  # a health check that fails is an adapter that is down
            states[name] = Health(ok=False, detail=type(exc).__name__)
    return states


def _routes(generation: Generation, states: dict[str, Health]) -> dict[str, Any]:
    down = Health(ok=False, detail="no such adapter")
    return {
        route.id: {"adapter": route.adapter, **states.get(route.adapter, down).model_dump()}
        for route in generation.settings.services
    }


async def ready(request: web.Request) -> web.Response:
    """200 when the store and every route's adapter answer; 503 (with what failed) if not."""
    app = request.app
    timeout_s = app[SETTINGS].metrics.store_timeout_s
    store = await _store_state(app[STORE], timeout_s)
    async with app[RUNTIME].use() as generation:
        routes = _routes(generation, await _adapter_state(generation))
        mapping = {"generation": generation.number, "version": generation.version}
    ok = store["ok"] and all(r["ok"] for r in routes.values())
    body = {
        "status": "pass" if ok else "fail",
        "store": store,
        "routes": routes,
        "mapping": mapping,
        "build": build.info(app[STARTED]),
    }
    return web.json_response(body, status=200 if ok else 503, headers=_NO_STORE)
