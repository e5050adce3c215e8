"""The journey trace on PostgreSQL (the same tables and rules as ``_trace_sql``).

Appending takes ``pg_advisory_xact_lock(TRACE_LOCK)``: two replicas recording hops
of one journey (or of two journeys that meet) at once would otherwise both read the
same last entry and fork its chain. Recording runs after the answer, in batches, so
the wait is never a request's.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.store._trace_sql import hop_from_row
from gateway.store.trace import (
    GENESIS,
    AmbiguousId,
    Journey,
    StoredHop,
    TraceHop,
    chained,
    ids_text,
    instant,
    root_of,
)

TRACE_LOCK = 0x7565_6367_7472_6163

MIGRATION = (
    """
    CREATE TABLE trace_journeys (
        journey_id text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        joined_to text
    )
    """,
    "CREATE INDEX ix_trace_journeys_joined ON trace_journeys (joined_to)"
    " WHERE joined_to IS NOT NULL",
    """
    CREATE TABLE trace_hops (
        journey_id text NOT NULL,
        seq integer NOT NULL,
        at timestamptz NOT NULL,
        place text NOT NULL,
        kind text NOT NULL,
        outcome text NOT NULL,
        latency_ms double precision NOT NULL,
        ids text NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (journey_id, seq)
    )
    """,
    """
    CREATE TABLE trace_ids (
        id_value text NOT NULL,
        id_kind text NOT NULL,
        journey_id text NOT NULL,
        PRIMARY KEY (id_value, id_kind)
    )
    """,
)

_ROOTS = (
    "SELECT DISTINCT r.journey_id, r.started_at FROM trace_ids i"
    " JOIN trace_journeys j ON j.journey_id = i.journey_id"
    " JOIN trace_journeys r ON r.journey_id = COALESCE(j.joined_to, j.journey_id)"
)
_HOPS = (
    "SELECT journey_id, seq, at, place, kind, outcome, latency_ms, ids, prev_hash, hash"
    " FROM trace_hops"
)


def _same(value: datetime) -> datetime:
    return value


async def _append(conn: Any, hops: Sequence[TraceHop], new_journey_id: str) -> str:
    pairs = sorted({pair for hop in hops for pair in hop.indexed()})
    found = await conn.fetch(
        f"{_ROOTS} JOIN unnest($1::text[], $2::text[]) AS p(v, k)"
        " ON i.id_value = p.v AND i.id_kind = p.k",
        [v for _, v in pairs],
        [k for k, _ in pairs],
    )
    roots = [(r[0], instant(r[1])) for r in found]
    if roots:
        journey = root_of(roots)
        others = [jid for jid, _ in roots if jid != journey]
        await conn.execute(
            "UPDATE trace_journeys SET joined_to = $1"
            " WHERE journey_id = ANY($2::text[]) OR joined_to = ANY($2::text[])",
            journey,
            others,
        )
    else:
        journey = new_journey_id
        await conn.execute(
            "INSERT INTO trace_journeys (journey_id, started_at) VALUES ($1, $2)",
            journey,
            hops[0].at,
        )
    last = await conn.fetchrow(
        "SELECT seq, hash FROM trace_hops WHERE journey_id = $1 ORDER BY seq DESC LIMIT 1",
        journey,
    )
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    await conn.executemany(
        "INSERT INTO trace_hops VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [_params(s) for s in chained(journey, seq, prev, hops)],
    )
    await conn.executemany(
        "INSERT INTO trace_ids (id_value, id_kind, journey_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        [(value, kind, journey) for kind, value in pairs],
    )
    return journey


def _params(stored: StoredHop) -> tuple[object, ...]:
    hop = stored.hop
    return (
        stored.journey_id,
        stored.seq,
        hop.at,
        hop.place,
        hop.kind,
        hop.outcome,
        hop.latency_ms,
        ids_text(hop.ids),
        stored.prev_hash,
        stored.hash,
    )


async def _find(conn: Any, value: str) -> Journey | None:
    root: str | None = await conn.fetchval(
        "SELECT COALESCE(joined_to, journey_id) FROM trace_journeys WHERE journey_id = $1", value
    )
    if root is None:
        roots = [r[0] for r in await conn.fetch(f"{_ROOTS} WHERE i.id_value = $1", value)]
        if not roots:
            return None
        if len(roots) > 1:
            raise AmbiguousId(value, sorted(roots))
        root = roots[0]
    rows = await conn.fetch(
        f"{_HOPS} WHERE journey_id IN (SELECT journey_id FROM trace_journeys"
        " WHERE journey_id = $1 OR joined_to = $1) ORDER BY at, journey_id, seq",
        root,
    )
    return Journey(root, tuple(hop_from_row(r, _same) for r in rows))


class PooledTrace:
    """``TraceStore`` for ``PostgresStore`` (its ``_acquire`` lends a pooled connection)."""

    def _acquire(self) -> contextlib.AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    async def append_trace(self, exchanges: Sequence[Sequence[TraceHop]]) -> list[str]:
        groups = [(list(hops), str(uuid.uuid4())) for hops in exchanges if hops]
        if not groups:
            return []
        async with self._acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", TRACE_LOCK)
            return [await _append(conn, hops, new) for hops, new in groups]

    async def find_journey(self, value: str) -> Journey | None:
        async with self._acquire() as conn:
            return await _find(conn, value)

    async def journey_chain(self, journey_id: str) -> list[StoredHop]:
        async with self._acquire() as conn:
            rows = await conn.fetch(f"{_HOPS} WHERE journey_id = $1 ORDER BY seq", journey_id)
        return [hop_from_row(r, _same) for r in rows]

    async def trace_journey_ids(self) -> list[str]:
        async with self._acquire() as conn:
            rows = await conn.fetch(
                "SELECT journey_id FROM trace_journeys ORDER BY started_at, journey_id"
            )
        return [r[0] for r in rows]
