"""Helpers for the embedded adapter's own tests: a settable clock and an opener."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.domain import Slot, SlotQuery, SlotStatus
from adapters.embedded import EmbeddedAdapter, PgTarget, load_directory
from tests.contract.builders import call_context

#: The demo data shipped with the adapter.
DEMO = Path(__file__).resolve().parents[2] / "mappings" / "embedded" / "demo"
UTC_SERVICE = "918999198999"
OOH_SERVICE = "918999198888"
LONDON = ZoneInfo("Europe/London")
ALL_STATUSES = frozenset(SlotStatus)
#: A Monday in June (no clock change within the default horizon).
JUNE_MORNING = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = JUNE_MORNING) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def open_diary(
    database: Path | str | PgTarget, clock: Clock, *, data_dir: Path = DEMO, horizon_days: int = 3
) -> EmbeddedAdapter:
    return await EmbeddedAdapter.open(
        "diary",
        database,
        load_directory(data_dir),
        zone=LONDON,
        horizon_days=horizon_days,
        clock=clock,
    )


async def all_slots(adapter: EmbeddedAdapter, service_id: str = UTC_SERVICE) -> list[Slot]:
    query = SlotQuery(service_id=service_id, statuses=ALL_STATUSES)
    return list((await adapter.search_slots(query, call_context())).slots)


async def first_free(adapter: EmbeddedAdapter, service_id: str = UTC_SERVICE) -> Slot:
    query = SlotQuery(service_id=service_id)
    return (await adapter.search_slots(query, call_context())).slots[0]
