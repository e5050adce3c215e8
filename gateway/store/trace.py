"""The journey trace's stored shape: hops, their hash chain and the id index.

Every hop is one row of ``trace_hops`` in the journey it belongs to, numbered
``seq`` 1, 2, ... Its ``hash`` is the SHA-256 of a canonical encoding of the
entry and the previous entry's hash (``prev_hash``; :data:`GENESIS` for the
first), so an edited, removed or reordered row breaks the chain from there on.
``trace_ids`` maps every id a hop carried to its journey; ``trace_journeys``
records when a journey met an older one and was joined to it (see
docs/ops/trace.md). Ids and hashes only: never a patient value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

#: ``prev_hash`` of a journey's first hop.
GENESIS = "0" * 64

#: The kinds of id a hop may carry (the keys of ``TraceHop.ids``).
ID_KINDS = (
    "request_id",
    "correlation_id",
    "gateway_request_id",
    "ssp_trace_id",
    "bars_message_id",
    "bars_journey_id",
    "msh10",
    "msa2",
    "itk_tracking_id",
    "cda_id",
    "appointment_id",
    "referral_id",
    "supplier_ref",
    "message_id",
)
#: Carried with a hop but not an id of anything: never indexed, never joins journeys.
ATTRIBUTES = ("appointment_version",)


@dataclass(frozen=True, slots=True)
class TraceHop:
    """One hop as recorded: where, what, how it ended and the ids seen there."""

    at: datetime
    #: The door or adapter (route) the hop happened at: ``stu3``, ``hl7v2``, ``diary``...
    place: str
    #: What happened: ``inbound.stu3.book``, ``supplier.book``, ``inbound.hl7v2.cancel``...
    kind: str
    outcome: str
    latency_ms: float
    ids: Mapping[str, str] = field(default_factory=dict)

    def indexed(self) -> list[tuple[str, str]]:
        """The (kind, value) pairs of this hop that find its journey."""
        return [(k, v) for k, v in sorted(self.ids.items()) if k not in ATTRIBUTES and v]


@dataclass(frozen=True, slots=True)
class StoredHop:
    """A hop as the store holds it: in its journey, at its place in the chain."""

    journey_id: str
    seq: int
    hop: TraceHop
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Journey:
    """Every hop of one journey and of the journeys joined to it, in time order."""

    journey_id: str
    hops: tuple[StoredHop, ...]


class AmbiguousId(LookupError):
    """One id value that several unrelated journeys carry (e.g. the same MSH-10 from two
    sending applications)."""

    def __init__(self, value: str, journeys: Sequence[str]) -> None:
        super().__init__(f"'{value}' is in {len(journeys)} journeys: {', '.join(journeys)}")
        self.journeys = tuple(journeys)


def instant(value: datetime) -> str:
    """The canonical text of an instant: UTC, microseconds (both stores round-trip it)."""
    if value.tzinfo is None:
        raise ValueError("datetime has no UTC offset")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ids_text(ids: Mapping[str, str]) -> str:
    """The ids as stored: JSON with sorted keys, no spaces."""
    return json.dumps(dict(sorted(ids.items())), separators=(",", ":"), ensure_ascii=False)


def chain_hash(journey_id: str, seq: int, hop: TraceHop, prev_hash: str) -> str:
    """SHA-256 over the canonical encoding of one entry and the previous entry's hash."""
    entry = [
        journey_id,
        seq,
        instant(hop.at),
        hop.place,
        hop.kind,
        hop.outcome,
        f"{hop.latency_ms:.3f}",
        ids_text(hop.ids),
        prev_hash,
    ]
    canonical = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def chained(
    journey_id: str, first_seq: int, prev_hash: str, hops: Sequence[TraceHop]
) -> list[StoredHop]:
    """``hops`` appended to a journey whose last entry is ``first_seq - 1`` with ``prev_hash``."""
    out: list[StoredHop] = []
    for offset, hop in enumerate(hops):
        seq = first_seq + offset
        digest = chain_hash(journey_id, seq, hop, prev_hash)
        out.append(StoredHop(journey_id, seq, hop, prev_hash, digest))
        prev_hash = digest
    return out


def first_break(hops: Sequence[StoredHop]) -> StoredHop | None:
    """The first entry of one journey's chain (in seq order) that does not verify."""
    prev, expected_seq = GENESIS, 1
    for stored in hops:
        digest = chain_hash(stored.journey_id, stored.seq, stored.hop, prev)
        if stored.seq != expected_seq or stored.prev_hash != prev or stored.hash != digest:
            return stored
        prev, expected_seq = stored.hash, expected_seq + 1
    return None


def root_of(roots: Sequence[tuple[str, str]]) -> str:
    """The journey that met journeys join into: the oldest of their roots.

    Each item is (root journey id, its started_at as ``instant`` text).
    """
    return min((started, jid) for jid, started in roots)[1]


class TraceStore(Protocol):
    """The journey trace part of the store (both stores implement it)."""

    async def append_trace(self, exchanges: Sequence[Sequence[TraceHop]]) -> list[str]:
        """Append each exchange's hops, in one transaction, to the journey their ids find
        (joining the journeys they meet into the oldest), or to a new journey if none;
        return each exchange's journey id."""
        ...

    async def find_journey(self, value: str) -> Journey | None:
        """The whole journey of an id value (or of a journey id); None if unknown.

        Raises ``AmbiguousId`` when the value is in several unjoined journeys."""
        ...

    async def journey_chain(self, journey_id: str) -> list[StoredHop]:
        """The hops stored under ``journey_id`` itself, in seq order (for verification)."""
        ...

    async def trace_journey_ids(self) -> list[str]:
        """Every journey id that has hops, oldest first."""
        ...
