"""The aiohttp application: long-lived things built in cleanup_ctx, kept under AppKeys."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

import structlog
from aiohttp import web

from adapters import registry
from adapters.contract import Capability, NotifyingAdapter, SupplierAdapter
from gateway.audit import AuditTrail
from gateway.config import Settings
from gateway.http import handlers
from gateway.http.exchange import ADAPTERS, AUDIT, KEYS, SERVICE, SETTINGS, STORE, VERSION
from gateway.http.middleware import fhir_middleware
from gateway.routing import Router
from gateway.security import load_keys
from gateway.service import BookingService
from gateway.store.sqlite import SqliteStore

log = structlog.get_logger(__name__)


def _version() -> str:
    try:
        return package_version("uec-gateway")
    except PackageNotFoundError:
        return "0+unknown"


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = SqliteStore(settings.resolve(settings.store.path))
    await store.open()
    app[STORE] = store
    audit = app[AUDIT] = AuditTrail(store)
    await audit.start()
    try:
        yield
    finally:
        await audit.close()
        await store.close()


async def _adapters_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    built: dict[str, SupplierAdapter] = {}
    try:
        for item in settings.adapters:
            built[item.name] = await registry.create(
                item.kind, item.name, item.options, settings.base_dir
            )
            log.info("adapter_started", adapter=item.name, kind=item.kind)
        app[ADAPTERS] = built
        router = Router(built, {s.id: s for s in settings.services})
        service = BookingService(
            app[STORE],
            router,
            local_patient_system=f"{settings.server.service_root}/Id/local-patient-identifier",
        )
        for adapter in built.values():
            if Capability.NOTIFICATIONS in adapter.capabilities and isinstance(
                adapter, NotifyingAdapter
            ):
                adapter.subscribe(service.apply_change)
        app[SERVICE] = service
        yield
    finally:
        for adapter in built.values():
            await adapter.close()


async def health(request: web.Request) -> web.Response:
    """Liveness plus one ping per adapter (no authentication, no patient data)."""
    checks = {name: await adapter.health() for name, adapter in request.app[ADAPTERS].items()}
    ok = all(c.ok for c in checks.values())
    body = {
        "status": "pass" if ok else "fail",
        "checks": {n: c.model_dump() for n, c in checks.items()},
    }
    return web.json_response(body, status=200 if ok else 503, headers={"Cache-Control": "no-store"})


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[fhir_middleware], client_max_size=settings.server.max_body_bytes
    )
    app[SETTINGS] = settings
    app[VERSION] = _version()
    app[KEYS] = load_keys(settings.security.jwt, settings.base_dir, os.environ)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_adapters_ctx)
    handlers.add_routes(app, settings.server.base_path)
    app.router.add_get("/health", health)
    return app
