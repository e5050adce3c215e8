"""What an operator sees of a journey: its JSON, its text table, its chains checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.store.trace import Journey, StoredHop, TraceStore, first_break, instant

_COLUMNS = ("#", "AT (UTC)", "PLACE", "HOP", "OUTCOME", "MS", "IDS")


def hop_json(stored: StoredHop) -> dict[str, Any]:
    hop = stored.hop
    return {
        "journey_id": stored.journey_id,
        "seq": stored.seq,
        "at": instant(hop.at),
        "place": hop.place,
        "kind": hop.kind,
        "outcome": hop.outcome,
        "latency_ms": hop.latency_ms,
        "ids": dict(hop.ids),
        "prev_hash": stored.prev_hash,
        "hash": stored.hash,
    }


def journey_ids(journey: Journey) -> dict[str, list[str]]:
    """Every id the journey carried, by kind, in the order first seen."""
    found: dict[str, list[str]] = {}
    for stored in journey.hops:
        for kind, value in stored.hop.ids.items():
            values = found.setdefault(kind, [])
            if value not in values:
                values.append(value)
    return dict(sorted(found.items()))


def journey_json(journey: Journey) -> dict[str, Any]:
    joined = sorted({s.journey_id for s in journey.hops} - {journey.journey_id})
    return {
        "journey_id": journey.journey_id,
        "joined": joined,
        "ids": journey_ids(journey),
        "hops": [hop_json(s) for s in journey.hops],
    }


def _row(index: int, stored: StoredHop) -> tuple[str, ...]:
    hop = stored.hop
    ids = " ".join(f"{k}={v}" for k, v in sorted(hop.ids.items()))
    at = instant(hop.at).replace("T", " ")[:23]
    return (str(index), at, hop.place, hop.kind, hop.outcome, f"{hop.latency_ms:.1f}", ids)


def journey_text(journey: Journey) -> str:
    """A fixed-width table, one line per hop, in time order."""
    rows = [_COLUMNS, *(_row(i, s) for i, s in enumerate(journey.hops, 1))]
    widths = [max(len(r[c]) for r in rows) for c in range(len(_COLUMNS) - 1)]
    lines = [f"journey {journey.journey_id} ({len(journey.hops)} hops)"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Verified:
    """What a chain check found: how much it read and the first entry that failed."""

    journeys: int
    hops: int
    broken: StoredHop | None = None

    def describe(self) -> str:
        if self.broken is None:
            return f"OK: {self.journeys} journey(s), {self.hops} hop(s), every hash chain intact"
        b = self.broken
        return (
            f"BROKEN: journey {b.journey_id} entry {b.seq} ({b.hop.kind} at {instant(b.hop.at)})"
            " does not match its hash chain"
        )


async def verify(store: TraceStore, journey_ids: list[str]) -> Verified:
    """Check the chains of ``journey_ids``; stop at the first broken entry."""
    hops = 0
    for count, journey_id in enumerate(journey_ids, 1):
        chain = await store.journey_chain(journey_id)
        hops += len(chain)
        broken = first_break(chain)
        if broken is not None:
            return Verified(count, hops, broken)
    return Verified(len(journey_ids), hops)


async def verify_from(store: TraceStore, value: str | None) -> Verified | None:
    """Check every chain, or those of the journey ``value`` finds (None: unknown id)."""
    if value is None:
        return await verify(store, await store.trace_journey_ids())
    journey = await store.find_journey(value)
    if journey is None:
        return None
    members = sorted({s.journey_id for s in journey.hops} | {journey.journey_id})
    return await verify(store, members)
