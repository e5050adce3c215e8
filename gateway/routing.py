"""Which adapter instance serves a national service id, and which holds a slot.

Services are routed by configuration (``services:``) first, then by asking
each adapter whether it serves the id. Slot searches teach the router which
route and service each slot and schedule belongs to, so a booking (which only
names a slot) reaches the adapter that offered it. With several routes the
booking service also writes what a search taught to the store
(``BookingService.locate``), so a booking sent to another replica, or made after a
restart, finds its route too; with one route there is only one place to look.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from adapters.contract import SupplierAdapter
from adapters.domain import SlotSearchResult
from gateway.circuits import Breakers
from gateway.config import ServiceRoute

#: Versioned results remembered (see ``Router.remember``) before the record restarts.
_REMEMBERED_MAX = 4096


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    adapter: SupplierAdapter


@dataclass(frozen=True, slots=True)
class SlotHome:
    route: Route
    service_id: str | None


class Router:
    def __init__(
        self,
        adapters: Mapping[str, SupplierAdapter],
        services: Mapping[str, ServiceRoute],
        *,
        memory: int = 100_000,
        breakers: Breakers | None = None,
    ) -> None:
        #: Each route's circuit breaker; the runtime passes one set kept across reloads.
        self.breakers = breakers or Breakers()
        self.routes = {name: Route(name, adapter) for name, adapter in adapters.items()}
        self.services = dict(services)
        self._memory = memory
        self._homes: OrderedDict[str, SlotHome] = OrderedDict()
        #: Homes dropped to keep within ``memory``; a result remembered before a drop
        #: is remembered again (see ``remember``).
        self._dropped = 0
        #: (route, result version, query) already remembered, and ``_dropped`` then.
        self._remembered: dict[tuple[str, str, Hashable], int] = {}

    def for_service(self, service_id: str) -> Route | None:
        configured = self.services.get(service_id)
        if configured is not None:
            return self.routes[configured.adapter]
        for route in self.routes.values():
            if route.adapter.serves(service_id):
                return route
        return None

    def route(self, name: str) -> Route | None:
        return self.routes.get(name)

    def allowed(self, service_id: str | None, ods_code: str | None) -> bool:
        """Whether a consumer may book/cancel at a service (its optional allow-list)."""
        configured = self.services.get(service_id or "")
        if configured is None or not configured.allowed_consumers:
            return True
        return ods_code in configured.allowed_consumers

    @property
    def several(self) -> bool:
        """Whether a slot could live at more than one route (so its home must be found)."""
        return len(self.routes) > 1

    def remember(
        self, result: SlotSearchResult, route: Route, query: Hashable | None = None
    ) -> list[tuple[str, SlotHome]]:
        """Note where each slot and schedule in a search result lives; returns the keys
        this process did not know there yet (the ones worth sharing with other replicas).

        A result the supplier versioned (``SlotSearchResult.version``) for the same
        ``query`` is the same result: noted once, unless homes were dropped since.
        """
        seen = None
        if result.version is not None and query is not None:
            seen = (route.name, result.version, query)
            if self._remembered.get(seen) == self._dropped:
                return []
        fresh: list[tuple[str, SlotHome]] = []
        for schedule in result.schedules.values():
            self._keep(f"schedule:{schedule.id}", SlotHome(route, schedule.service_id), fresh)
        for slot in result.slots:
            service = result.schedules.get(slot.schedule_id)
            home = SlotHome(route, service.service_id if service else None)
            self._keep(f"slot:{slot.identifier}", home, fresh)
            self._keep(f"slot:{slot.id}", home, fresh)
        if seen is not None:
            if len(self._remembered) >= _REMEMBERED_MAX:
                self._remembered.clear()
            self._remembered[seen] = self._dropped
        return fresh

    def place(self, slot_key: str, home: SlotHome) -> None:
        """Note where one slot lives, as a search would (a restart finishing a reschedule
        to a slot this process has not yet seen searched)."""
        self._keep(f"slot:{slot_key}", home)

    def adopt(self, key: str, home: SlotHome) -> None:
        """Keep a home another replica noted (``key`` as ``remember`` writes it)."""
        self._keep(key, home)

    def _keep(
        self, key: str, home: SlotHome, fresh: list[tuple[str, SlotHome]] | None = None
    ) -> None:
        if fresh is not None and self._homes.get(key) != home:
            fresh.append((key, home))
        self._homes[key] = home
        self._homes.move_to_end(key)
        while len(self._homes) > self._memory:
            self._homes.popitem(last=False)
            self._dropped += 1

    def for_slot(self, slot_key: str, schedule_id: str | None) -> SlotHome | None:
        home = self._homes.get(f"slot:{slot_key}")
        if home is None and schedule_id:
            home = self._homes.get(f"schedule:{schedule_id}")
        if home is None and len(self.routes) == 1:
            # One back end: it is the only place the slot can be.
            return SlotHome(next(iter(self.routes.values())), None)
        return home
