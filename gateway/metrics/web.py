"""Wiring of the metrics into the app: the store timed, each request counted, the scrape.

``metrics_ctx`` runs right after the store is opened, so the runtime, the
adapters' listeners and the HL7 front door all start with this app's
``Metrics`` bound (``adapters.telemetry``) and count into it.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import Token
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters import telemetry
from gateway import journeys
from gateway.bars.exchange import EXCHANGE as BARS_EXCHANGE
from gateway.doors import DoorExchange
from gateway.http.exchange import EXCHANGE, RUNTIME, SETTINGS, STORE
from gateway.metrics import Metrics, bound, build, health
from gateway.store import Store

log = structlog.get_logger(__name__)
METRICS = web.AppKey("metrics", Metrics)
_BINDING = web.AppKey("metrics_binding", Token[telemetry.Sink | None])
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Store methods that are lifecycle, not calls worth timing.
_UNTIMED = frozenset({"open", "close"})


def _timed(metrics: Metrics, op: str, call: Callable[..., Awaitable[Any]]) -> Any:
    seconds = metrics.store_seconds.labels(op)

    @functools.wraps(call)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            seconds.observe(time.perf_counter() - started)

    return timed


def time_store(metrics: Metrics, store: Store) -> None:
    """Time every public coroutine of ``store`` (labelled by method name) in place."""
    for name in dir(Store):
        if name.startswith("_") or name in _UNTIMED:
            continue
        if inspect.iscoroutinefunction(getattr(Store, name, None)):
            setattr(store, name, _timed(metrics, name, getattr(store, name)))


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build this app's metrics; everything started after this counts into them."""
    metrics = app[METRICS] = Metrics()
    metrics.build.labels(**build.labels()).set(1)
    time_store(metrics, app[STORE])
    # Bound for the rest of start-up: what it starts (listeners, tasks) copies this context.
    app[_BINDING] = telemetry.SINK.set(metrics)
    yield


async def _unbind(app: web.Application) -> None:
    """After start-up, the starting task is left as it was (another app may start in it)."""
    token = app.get(_BINDING)
    if token is not None:
        telemetry.SINK.reset(token)


def _door(request: web.Request) -> str:
    settings, path = request.app[SETTINGS], request.path
    if path.startswith("/admin"):
        return "admin"
    if path.startswith(("/health", "/metrics", "/ops")):
        return "ops"
    if settings.bars is not None and path.startswith(settings.bars.base_path):
        return "bars"
    if settings.itk is not None and path.startswith(settings.itk.path):
        return "itk"
    return "stu3" if path.startswith(settings.server.base_path) else "other"


def _route(ex: DoorExchange | None) -> str:
    """The route serving the request's service id; ``none`` for an id no route serves
    (a search's ``service=`` may hold anything a sender typed)."""
    if ex is None or ex.generation is None or not ex.service_id:
        return "none"
    route = ex.generation.router.for_service(ex.service_id)
    return route.name if route is not None else "none"


def _count(metrics: Metrics, request: web.Request, status: int, seconds: float) -> None:
    ex: DoorExchange | None = request.get(EXCHANGE) or request.get(BARS_EXCHANGE)
    door = _door(request)
    interaction = ex.interaction if ex is not None else "itk_report" if door == "itk" else door
    metrics.requests.labels(door, interaction, str(status), _route(ex)).inc()
    metrics.request_seconds.labels(door, interaction).observe(seconds)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time each request, with this app's metrics bound while it runs."""
    metrics = request.app.get(METRICS)
    if metrics is None:  # not started yet, or a sub-application's own router
        return await handler(request)
    started = time.perf_counter()
    status = 500
    try:
        with bound(metrics):
            response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        _count(metrics, request, status, time.perf_counter() - started)


async def scrape(request: web.Request) -> web.Response:
    """GET /metrics: this process's metrics in the Prometheus text format."""
    app = request.app
    if app[SETTINGS].metrics.require_admin_token and not journeys.authorised(request):
        return web.json_response({"error": "admin token required"}, status=403)
    metrics = app[METRICS]
    generation = app[RUNTIME].current
    if generation is not None:
        metrics.set_mapping(generation.number, generation.version)
    try:
        metrics.claims_pending.set(len(await app[STORE].in_doubt_claims()))
    except Exception as exc:  # the scrape still answers; the gauge keeps its last value
        log.warning("claims_pending_unread", error=type(exc).__name__)
    body = generate_latest(metrics.registry)
    headers = {"Cache-Control": "no-store", "Content-Type": CONTENT_TYPE_LATEST}
    return web.Response(body=body, headers=headers)


def add_routes(app: web.Application) -> None:
    """/metrics (when enabled), /health/live and /health/ready."""
    app[health.STARTED] = build.now()
    app.on_startup.append(_unbind)  # runs after every cleanup_ctx has started
    if app[SETTINGS].metrics.enabled:
        app.router.add_get("/metrics", scrape)
    app.router.add_get("/health/live", health.live)
    app.router.add_get("/health/ready", health.ready)
