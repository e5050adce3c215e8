"""The operator dashboard: one page served by the gateway, live from the admin API.

``GET /admin/dashboard`` is a static page (HTML, one stylesheet, one script; no
build step) holding no data. Everything it shows comes from admin endpoints that
require the admin token (``server.admin_token_env``), which the operator types
once and the page keeps for the browser tab only (``sessionStorage``), sending it
as ``Authorization: Bearer`` like every other admin call:

- ``GET /admin/dashboard/data``: each route and its supplier's state, the mapping
  generation, pending in-doubt bookings, backlogs, and every section another part
  of the gateway registers (``add_section``: circuits, recent failures, latency);
- the journey trace (``GET /admin/trace/{id}``) and replay (``POST /admin/replay``)
  for the search box and the replay buttons.

No patient data reaches the page: sections carry ids, counts, ages and reasons.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from gateway.dashboard._sections import BUILT_IN, SECTIONS, WINDOW, Section, add_section, gather
from gateway.journeys import authorised
from gateway.metrics.readings import Window

__all__ = ["SECTIONS", "Section", "add_routes", "add_section"]

_STATIC = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
}
_HEADERS = {
    "Cache-Control": "no-store",
    # The page loads only its own script and style and talks only to this gateway.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


async def page(request: web.Request) -> web.Response:
    """The page itself: static, no data (the data calls carry the token)."""
    return web.Response(body=_asset("index.html"), content_type="text/html", headers=_HEADERS)


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = _STATIC.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    return web.Response(body=_asset(name), content_type=kind, headers=_HEADERS)


async def data(request: web.Request) -> web.Response:
    """Every section's current state as JSON (admin token required)."""
    if not authorised(request):
        return web.json_response({"error": "admin token required"}, status=403)
    return web.json_response(await gather(request.app), headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app[SECTIONS] = dict(BUILT_IN)
    app[WINDOW] = Window()
    app.router.add_get("/admin/dashboard", page)
    app.router.add_get("/admin/dashboard/static/{name}", asset)
    app.router.add_get("/admin/dashboard/data", data)
