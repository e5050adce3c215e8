"""Booking pointers in the national registry (BaRS DocumentReference-StandardPattern).

Pointers follow appointment versions: the store journals every version it adds
(when the registry is configured), and ``PointerWorker`` makes the registry
match each in turn. Nothing here is on a booking's path; see ``worker.py``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from gateway.config import RegistrySettings, Settings
from gateway.registry.client import RegistryClient
from gateway.registry.pointer import DOS_SYSTEM, PointerSite
from gateway.registry.worker import PointerWorker
from gateway.store import Store

__all__ = [
    "WORKER",
    "PointerWorker",
    "active",
    "backlog_report",
    "build_worker",
    "running",
    "site_for",
]

WORKER = web.AppKey("registry_worker", PointerWorker)


def active(settings: Settings) -> RegistrySettings | None:
    """The registry section when pointers are to be kept, else None."""
    registry = settings.registry
    return registry if registry is not None and registry.enabled else None


def site_for(settings: Settings, registry: RegistrySettings) -> PointerSite:
    """Where pointers say bookings live: the BaRS door's URLs (the STU3 ones without it)."""
    dos_ids: dict[str, str] = {}
    base = settings.server.service_root
    if settings.bars is not None:
        from gateway.bars.targets import load_targets

        base = settings.bars.service_root
        for target in load_targets(settings, settings.bars):
            if target.system == DOS_SYSTEM:
                dos_ids.setdefault(target.service, target.value)
    return PointerSite(registry.custodian_ods, base, registry.product_id, dos_ids)


def build_worker(settings: Settings, registry: RegistrySettings, store: Store) -> PointerWorker:
    token = os.environ.get(registry.token_env) if registry.token_env else None
    client = RegistryClient(
        registry.url,
        registry.custodian_ods,
        connect_timeout_s=registry.connect_timeout_s,
        request_timeout_s=registry.request_timeout_s,
        token=token,
    )
    return PointerWorker(
        store, client, site_for(settings, registry), registry, use_case=registry.use_case
    )


@asynccontextmanager
async def running(app: web.Application, settings: Settings, store: Store) -> AsyncIterator[None]:
    """Run the pointer worker for the app's life, when the registry is configured."""
    registry = active(settings)
    if registry is None:
        yield
        return
    worker = build_worker(settings, registry, store)
    await worker.start()
    app[WORKER] = worker
    try:
        yield
    finally:
        await worker.close()


async def backlog_report(worker: PointerWorker) -> dict[str, Any]:
    """The journal's backlog for /health: counts and the oldest pending entry's age (no ids)."""
    backlog = await worker.backlog()
    oldest = backlog.oldest_pending
    age = (worker.clock() - oldest).total_seconds() if oldest is not None else None
    return {
        "pending": backlog.pending,
        "stuck": backlog.stuck,
        "refused": backlog.refused,
        "oldest_pending_age_s": round(age, 1) if age is not None else None,
    }
