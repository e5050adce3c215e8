"""The aiohttp application: long-lived things built in cleanup_ctx, kept under AppKeys."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from adapters import journaling
from gateway import dashboard, journeys, logs, retention
from gateway.alerts.loop import alerts_ctx
from gateway.audit import AuditTrail
from gateway.bars import door as bars_door
from gateway.bars import listener as bars_listener
from gateway.circuits import circuit_states
from gateway.config import Settings
from gateway.fhir.slot_pages import SlotPages
from gateway.hl7 import front_door_ctx
from gateway.http import handlers, referral
from gateway.http.exchange import AUDIT, KEYS, RUNTIME, SETTINGS, SLOT_PAGES, STORE, VERSION
from gateway.http.middleware import fhir_middleware
from gateway.itk import door as itk_door
from gateway.metrics import web as metrics
from gateway.metrics.web import METRICS
from gateway.msgjournal import replay as msgjournal_replay
from gateway.msgjournal import sink as msgjournal_sink
from gateway.registry import WORKER, active, backlog_report, running
from gateway.release import version as release_version
from gateway.runtime import ReloadFailed, Runtime
from gateway.security import load_keys
from gateway.store import configured
from gateway.trace import admin as trace_admin
from gateway.trace.recorder import TRACE
from gateway.workers import SERVING, Worker

log = structlog.get_logger(__name__)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # With a registry, every stored version journals its pointer work (gateway/registry/).
    store = configured.build(settings, pointer_journal=active(settings) is not None)
    await store.open()
    app[STORE] = store
    audit = app[AUDIT] = AuditTrail(store)
    await audit.start()
    try:
        yield
    finally:
        await audit.close()
        await store.close()


async def _registry_ctx(app: web.Application) -> AsyncIterator[None]:
    async with running(app, app[SETTINGS], app[STORE]):
        yield


async def _runtime_ctx(app: web.Application, config_path: Path | None) -> AsyncIterator[None]:
    serving = app.get(SERVING)
    trace = app[TRACE].submit  # journaled messages are hops of their journeys too
    if serving is None:
        runtime = Runtime(app[SETTINGS], app[STORE], config_path, trace=trace)
    else:  # each worker its own per-process adapter files (gateway/workers/files.py)
        runtime = Runtime(
            app[SETTINGS],
            app[STORE],
            config_path,
            adapter_options=serving.adapter_options,
            trace=trace,
        )
    # What adapters send to suppliers is journaled (adapters/journaling.py): bound before
    # the start, so start-up reconciliation and every request served inherit it.
    journal = msgjournal_sink.MessageJournal(app[STORE], app[SETTINGS].journal)
    sink = journal.outbound if app[SETTINGS].journal.enabled else None
    journaling.OUTBOUND.set(sink)  # each app's own: a site keeps the context it started in
    await runtime.start()
    app[RUNTIME] = runtime
    if METRICS in app:  # each route's circuit, read at every scrape
        app[METRICS].register_state_source(lambda: _circuit_states(runtime))
    try:
        yield
    finally:
        await runtime.close()
        await journal.drain()


def _circuit_states(runtime: Runtime) -> dict[str, str]:
    return {name: state.state for name, state in runtime.breakers.states().items()}


async def health(request: web.Request) -> web.Response:
    """Liveness plus one ping per adapter (no authentication, no patient data)."""
    async with request.app[RUNTIME].use() as generation:
        checks = {name: await a.health() for name, a in generation.adapters.items()}
        version = generation.version
    ok = all(c.ok for c in checks.values())
    circuits = circuit_states(request.app[RUNTIME].breakers, list(checks))
    body: dict[str, Any] = {
        "status": "pass" if ok else "fail",
        "mapping_version": version,
        "checks": {n: c.model_dump() for n, c in checks.items()},
        "circuits": {n: c.as_json() for n, c in circuits.items()},
    }
    worker = request.app.get(WORKER)
    if worker is not None:
        # The registry journal's backlog; pointers never fail the gateway's health.
        body["registry"] = await backlog_report(worker)
    serving = request.app.get(SERVING)
    if serving is not None:
        body["worker"] = serving.health()  # which of serve --workers N answered
    return web.json_response(body, status=200 if ok else 503, headers={"Cache-Control": "no-store"})


async def admin_reload(request: web.Request) -> web.Response:
    """POST /admin/reload: validate and swap mapping tables and routes (token required)."""
    if not journeys.authorised(request):
        return web.json_response({"error": "admin token required"}, status=403)
    try:
        generation = await request.app[RUNTIME].reload()
    except ReloadFailed as exc:
        log.warning("mapping_reload_refused", reason=str(exc))
        return web.json_response({"reloaded": False, "reason": str(exc)}, status=409)
    serving = request.app.get(SERVING)
    if serving is not None:
        serving.reload_others()  # the other workers read the same file (SIGHUP each)
    return web.json_response(
        {"reloaded": True, "generation": generation.number, "mapping_version": generation.version}
    )


async def _on_sighup(app: web.Application) -> None:
    try:
        await app[RUNTIME].reload()
    except ReloadFailed as exc:
        log.warning("mapping_reload_refused", reason=str(exc))


async def _signals(app: web.Application) -> None:
    """SIGHUP reloads mapping tables and routes, as daemons conventionally do."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_on_sighup(app)))
    except (NotImplementedError, RuntimeError, ValueError):
        log.info("sighup_reload_unavailable")


def create_app(
    settings: Settings, config_path: Path | None = None, worker: Worker | None = None
) -> web.Application:
    """The gateway; ``config_path`` is re-read on reload (SIGHUP or POST /admin/reload).

    ``worker``: this process is one of ``serve --workers N`` (``gateway/workers/``).
    """
    logs.quiet_noisy_loggers()
    app = web.Application(
        middlewares=[metrics.metrics_middleware, fhir_middleware],
        client_max_size=settings.server.max_body_bytes,
    )
    if worker is not None:
        app[SERVING] = worker
    app[SETTINGS] = settings
    app[VERSION] = release_version()
    app[SLOT_PAGES] = SlotPages()
    app[KEYS] = load_keys(settings.security.jwt, settings.base_dir, os.environ)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(trace_admin.recorder_ctx)  # the journey trace (docs/ops/trace.md)
    app.cleanup_ctx.append(metrics.metrics_ctx)  # counts what all that follows does
    app.cleanup_ctx.append(_registry_ctx)  # the registry pointer worker, when configured
    app.cleanup_ctx.append(functools.partial(_runtime_ctx, config_path=config_path))
    app.cleanup_ctx.append(front_door_ctx)  # the HL7 v2 MLLP front door, when configured
    app.cleanup_ctx.append(bars_listener.tls_listener_ctx)  # the BaRS door over mTLS, if so
    app.cleanup_ctx.append(journeys.watch_ctx)  # referrals whose booking never came
    app.cleanup_ctx.append(retention.job_ctx)  # purges records past their retention
    app.cleanup_ctx.append(alerts_ctx)  # alert rules posted to a webhook, when configured
    app.on_startup.append(_signals)
    handlers.add_routes(app, settings.server.base_path)
    referral.add_routes(app, settings.server.base_path)  # ReferralRequest reads (STU3)
    if settings.bars is not None and not settings.bars.tls.enabled:
        # The BaRS receiver (FHIR R4) beside the STU3 surface, over the same service.
        app.add_subapp(settings.bars.base_path, bars_door.create(settings))
    if settings.itk is not None:
        # The ITK 2.2 door (SOAP) for legacy 111 senders, over the same referral service.
        app.add_subapp(settings.itk.path, itk_door.create(settings))
    app.router.add_get("/health", health)
    metrics.add_routes(app)  # /metrics, /health/live, /health/ready
    app.router.add_post("/admin/reload", admin_reload)
    app.router.add_post("/admin/replay", msgjournal_replay.admin_replay)  # docs/ops/journal.md
    app.router.add_get("/ops/journeys", journeys.journeys)
    dashboard.add_routes(app)  # the operator page and its data (admin token)
    app.router.add_get("/admin/trace/{id}", trace_admin.trace)
    return app
