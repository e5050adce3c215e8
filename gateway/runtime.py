"""Generations of routes and adapters, swapped atomically on reload.

A ``Generation`` is everything built from the ``adapters:`` and ``services:``
sections and the mapping files they point at: the adapter instances, the
router and the booking service over them, stamped with a mapping version (a
hash of the configuration and every data file). Each request takes the
current generation once, at its start, and uses it to the end, so no request
ever mixes two versions. A reload validates and builds the next generation
fully before swapping; if anything fails the old one stays and the reason is
reported. Adapters whose settings and files did not change are carried over
rather than rebuilt; retired ones are closed once their last request ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from adapters import registry
from adapters.contract import Capability, NotifyingAdapter, SupplierAdapter
from gateway._claims import ClaimOwner
from gateway.circuits import Breakers
from gateway.config import AdapterSettings, ConfigError, Settings, load
from gateway.msgjournal import sink as msgjournal
from gateway.msgjournal.sink import Submit
from gateway.policy import Policy, PolicyError
from gateway.reconcile import reconcile
from gateway.routing import Router
from gateway.service import BookingService
from gateway.store import Store

log = structlog.get_logger(__name__)


def _hash_path(digest: Any, path: Path) -> None:
    if path.is_file():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    elif path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(child.relative_to(path)).encode())
            digest.update(child.read_bytes())


def adapter_fingerprint(item: AdapterSettings, base_dir: Path) -> str:
    """A hash of one adapter's settings and of every file or folder its options name."""
    digest = hashlib.sha256(json.dumps(item.model_dump(mode="json"), sort_keys=True).encode())
    for value in item.options.values():
        if isinstance(value, str) and value and not value.startswith(":"):
            candidate = Path(value) if Path(value).is_absolute() else base_dir / value
            # Databases are the adapter's state, not its mapping; they never force a rebuild.
            if candidate.suffix not in (".sqlite3", ".sqlite", ".db"):
                _hash_path(digest, candidate)
    return digest.hexdigest()


def front_door_fingerprint(settings: Settings) -> str | None:
    """What of the HL7 front door only a restart can change: listener, TLS and tables."""
    door = settings.hl7_front_door
    if door is None:
        return None
    fixed = door.model_dump(mode="json", exclude={"consumers", "time_budget_s"})
    digest = hashlib.sha256(json.dumps(fixed, sort_keys=True).encode())
    _hash_path(digest, settings.resolve(door.mappings))
    return digest.hexdigest()


def mapping_version(settings: Settings, fingerprints: Mapping[str, str]) -> str:
    """The version stamped on requests and logs: routes plus every adapter's fingerprint."""
    routes = [s.model_dump(mode="json") for s in settings.services]
    digest = hashlib.sha256(json.dumps([routes, sorted(fingerprints.items())]).encode())
    return digest.hexdigest()[:12]


def load_policy(settings: Settings) -> Policy:
    """The booking policy the configuration names (none: nothing restricted)."""
    if settings.policy is None:
        return Policy()
    try:
        return Policy.load(settings.resolve(settings.policy.folder))
    except PolicyError as exc:
        raise ConfigError(exc.problems) from exc


@dataclass(eq=False)
class Generation:
    number: int
    version: str
    settings: Settings
    adapters: dict[str, SupplierAdapter]
    fingerprints: dict[str, str]
    service: BookingService
    in_flight: int = 0
    drained: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def router(self) -> Router:
        return self.service.router


class ReloadFailed(Exception):
    """The new configuration could not be loaded; the running one is unchanged."""


#: The options an adapter is built with, from its configured settings.
AdapterOptions = Callable[[AdapterSettings], Mapping[str, Any]]


def _configured_options(item: AdapterSettings) -> Mapping[str, Any]:
    return item.options


class Runtime:
    """Holds the current generation; builds, swaps and retires generations.

    ``adapter_options`` gives the options each adapter is built with (by default its
    configured ones; a worker of ``serve --workers N`` names its own per-process
    files, ``gateway/workers/files.py``), on every reload alike. Fingerprints and
    the mapping version are the configuration's, whatever it gives.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        config_path: Path | None,
        *,
        adapter_options: AdapterOptions = _configured_options,
        trace: Submit | None = None,
    ) -> None:
        self._trace = trace
        self._settings = settings
        self._store = store
        self._config_path = config_path
        self._adapter_options = adapter_options
        self._reload_lock = asyncio.Lock()
        self.current: Generation | None = None
        # One claim holder for the whole process, whatever generation serves a request.
        self._claim_owner = ClaimOwner()
        #: Circuits outlive generations: a reload does not make a failing supplier well.
        self.breakers = Breakers(settings.circuits)
        self._reconciling: asyncio.Task[None] | None = None

    def _service(
        self, settings: Settings, adapters: dict[str, SupplierAdapter], policy: Policy
    ) -> BookingService:
        self.breakers.settings = settings.circuits
        router = Router(adapters, {s.id: s for s in settings.services}, breakers=self.breakers)
        return BookingService(
            self._store,
            router,
            local_patient_system=f"{settings.server.service_root}/Id/local-patient-identifier",
            claim_lease_s=settings.store.claim_lease_s,
            owner=self._claim_owner,
            policy=policy,
        )

    async def _adapters(
        self, settings: Settings, fingerprints: Mapping[str, str]
    ) -> dict[str, SupplierAdapter]:
        """Adapters for ``settings``: unchanged ones carried over, the rest built anew."""
        previous = self.current
        adapters: dict[str, SupplierAdapter] = {}
        fresh: list[SupplierAdapter] = []
        try:
            for item in settings.adapters:
                same = previous and previous.fingerprints.get(item.name) == fingerprints[item.name]
                if previous and same and item.name in previous.adapters:
                    adapters[item.name] = previous.adapters[item.name]
                    continue
                adapter = await registry.create(
                    item.kind, item.name, self._adapter_options(item), settings.base_dir
                )
                fresh.append(adapter)
                adapters[item.name] = adapter
                log.info("adapter_started", adapter=item.name, kind=item.kind)
        except BaseException:
            for adapter in fresh:
                await adapter.close()
            raise
        return adapters

    async def _build(self, settings: Settings, number: int) -> Generation:
        fingerprints = {
            a.name: adapter_fingerprint(a, settings.base_dir) for a in settings.adapters
        }
        policy = load_policy(settings)
        if policy.fingerprint:
            fingerprints = {**fingerprints, "policy:": policy.fingerprint}
        adapters = await self._adapters(settings, fingerprints)
        service = self._service(settings, adapters, policy)
        for adapter in adapters.values():
            notifies = Capability.NOTIFICATIONS in adapter.capabilities
            if notifies and isinstance(adapter, NotifyingAdapter):
                adapter.subscribe(service.apply_change)
        msgjournal.attach(adapters, self._store, settings.journal, trace=self._trace)
        version = mapping_version(settings, fingerprints)
        return Generation(number, version, settings, adapters, dict(fingerprints), service)

    async def start(self) -> Generation:
        self.current = await self._build(self._settings, 1)
        log.info("mapping_loaded", mapping_version=self.current.version, generation=1)
        self._reconciling = asyncio.get_running_loop().create_task(self._reconcile())
        return self.current

    async def _reconcile(self) -> None:
        """Finish bookings a dead process left in doubt (gateway/reconcile.py)."""
        try:
            async with self.use() as generation:
                timeout_s = generation.settings.server.request_timeout_s
                booked = await reconcile(generation.service, timeout_s)
        except Exception as exc:
            # Resends still resolve every claim; the gateway serves on.
            log.warning("reconcile_failed", error=type(exc).__name__)
            return
        if booked:
            log.info("in_doubt_reconciled", booked=booked)

    @asynccontextmanager
    async def use(self) -> AsyncIterator[Generation]:
        """The current generation, held for one whole request."""
        generation = self.current
        if generation is None:
            raise RuntimeError("the runtime has not started")
        generation.in_flight += 1
        try:
            yield generation
        finally:
            generation.in_flight -= 1
            if generation.in_flight == 0:
                generation.drained.set()

    def _compatible(self, new: Settings) -> None:
        old = self._settings
        changed = [
            name
            for name in ("server", "security", "store", "logging", "bars", "registry")
            if getattr(old, name) != getattr(new, name)
        ]
        if front_door_fingerprint(old) != front_door_fingerprint(new):
            # Its listener and tables are built once at start-up; consumers and the
            # time budget are read per message and may change on reload.
            changed.append("hl7_front_door (listener, TLS or tables)")
        if changed:
            raise ReloadFailed(f"sections {', '.join(changed)} changed: they need a restart")

    async def reload(self) -> Generation:
        """Validate and build the next generation, then swap; raise ReloadFailed if not."""
        async with self._reload_lock:
            if self._config_path is None or self.current is None:
                raise ReloadFailed("this gateway was not started from a configuration file")
            try:
                settings = load(self._config_path)
                self._compatible(settings)
                new = await self._build(settings, self.current.number + 1)
            except ReloadFailed:
                raise
            except (ConfigError, ValueError, LookupError, ImportError, OSError) as exc:
                raise ReloadFailed(str(exc)) from exc
            except Exception as exc:
                raise ReloadFailed(f"{type(exc).__name__}: {exc}") from exc
            old, self.current = self.current, new
            log.info(
                "mapping_reloaded",
                mapping_version=new.version,
                generation=new.number,
                previous=old.version,
            )
            asyncio.get_running_loop().create_task(self._retire(old, new))
            return new

    async def _retire(self, old: Generation, new: Generation) -> None:
        """Close the adapters only the old generation used, once its requests are done."""
        if old.in_flight:
            old.drained.clear()
            await old.drained.wait()
        kept = {id(a) for a in new.adapters.values()}
        for adapter in old.adapters.values():
            if id(adapter) not in kept:
                await adapter.close()

    async def close(self) -> None:
        if self._reconciling is not None:
            self._reconciling.cancel()
            await asyncio.wait([self._reconciling])
        generation, self.current = self.current, None
        if generation is not None:
            for adapter in generation.adapters.values():
                await adapter.close()
