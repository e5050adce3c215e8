"""``/_control/*``: fault injection and what the proxy saw (tests and demos only).

Off unless ``ProxySettings.control``; a real proxy has no such door.
"""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import ValidationError

from gateway.bars_proxy.faults import Fault
from gateway.bars_proxy.state import STATE


def _problem(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


async def add_fault(request: web.Request) -> web.Response:
    try:
        data = json.loads(await request.read())
        fault = Fault.model_validate(data)
    except ValueError as exc:  # JSON and pydantic's ValidationError alike
        detail = (
            "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            if isinstance(exc, ValidationError)
            else "the body is not JSON"
        )
        return _problem(400, detail)
    request.app[STATE].faults.add(fault)
    return web.json_response(fault.model_dump(mode="json"), status=201)


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[STATE].faults.pending()))


async def clear_faults(request: web.Request) -> web.Response:
    request.app[STATE].faults.clear()
    return web.Response(status=204)


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response([seen.json() for seen in request.app[STATE].seen])


async def clear_requests(request: web.Request) -> web.Response:
    request.app[STATE].seen.clear()
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_control/faults", add_fault)
    app.router.add_get("/_control/faults", list_faults)
    app.router.add_delete("/_control/faults", clear_faults)
    app.router.add_get("/_control/requests", list_requests)
    app.router.add_delete("/_control/requests", clear_requests)
