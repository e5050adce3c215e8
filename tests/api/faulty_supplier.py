"""A supplier that misbehaves on purpose: too slow, down, or broken inside.

It stands in for a remote supplier system (the gateway's own code is never
mocked); ``behaviour`` is one of ``slow``, ``down`` or ``broken``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.contract import BookingChange, BookingListener, Capability, Health
from adapters.domain import (
    Booking,
    BookingRequest,
    CallContext,
    HealthcareService,
    Schedule,
    Slot,
    SlotQuery,
    SlotSearchResult,
    SlotStatus,
    utcnow,
)
from adapters.errors import SupplierUnavailable

SERVICE = "555000111"


class FaultySupplier:
    def __init__(self, name: str, behaviour: str) -> None:
        self.name = name
        self.behaviour = behaviour
        self.capabilities = frozenset({Capability.BOOK, Capability.NOTIFICATIONS})
        if behaviour != "no-search":
            self.capabilities |= {Capability.SEARCH_SLOTS}
        self.listener: BookingListener | None = None

    def subscribe(self, listener: BookingListener) -> None:
        self.listener = listener

    async def tell(self, change: BookingChange) -> None:
        """Report a change made at the supplier's own desk, as its notifications would."""
        assert self.listener is not None, "the gateway subscribes at start-up"
        await self.listener(self.name, change)

    async def _misbehave(self) -> None:
        if self.behaviour == "slow":
            await asyncio.sleep(30)
        if self.behaviour == "down":
            raise SupplierUnavailable("connection refused by supplier")
        if self.behaviour == "broken":
            raise KeyError("a bug inside the adapter")

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        if self.behaviour == "ok":
            start = utcnow() + timedelta(hours=1)
            slot = Slot(
                id="s1",
                schedule_id="sc1",
                identifier="s1",
                status=SlotStatus.FREE,
                start=start,
                end=start + timedelta(minutes=10),
            )
            return SlotSearchResult(
                slots=(slot,),
                schedules={"sc1": Schedule(id="sc1", service_id=SERVICE)},
                services={SERVICE: HealthcareService(id=SERVICE, name="Faulty")},
            )
        await self._misbehave()
        raise AssertionError("unreachable")

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        await self._misbehave()
        raise AssertionError("unreachable")

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        await self._misbehave()
        raise AssertionError("unreachable")

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        await self._misbehave()
        raise AssertionError("unreachable")

    def serves(self, service_id: str) -> bool:
        return service_id == SERVICE

    async def health(self) -> Health:
        return Health(ok=self.behaviour == "ok", detail=self.behaviour)

    async def close(self) -> None:
        return None


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> FaultySupplier:
    return FaultySupplier(name, str(options.get("behaviour", "ok")))
