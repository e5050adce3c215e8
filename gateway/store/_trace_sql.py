"""The journey trace on SQLite: one function per store call, run on the store's thread."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

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

T = TypeVar("T")
Db = sqlite3.Connection

#: Schema migration of the SQLite store (``_sql.MIGRATIONS``).
MIGRATION = (
    """
    CREATE TABLE trace_journeys (
        journey_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        joined_to TEXT
    ) WITHOUT ROWID
    """,
    "CREATE INDEX ix_trace_journeys_joined ON trace_journeys (joined_to)"
    " WHERE joined_to IS NOT NULL",
    """
    CREATE TABLE trace_hops (
        journey_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        place TEXT NOT NULL,
        kind TEXT NOT NULL,
        outcome TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        ids TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (journey_id, seq)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE trace_ids (
        id_value TEXT NOT NULL,
        id_kind TEXT NOT NULL,
        journey_id TEXT NOT NULL,
        PRIMARY KEY (id_value, id_kind)
    ) WITHOUT ROWID
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
_MEMBERS = "SELECT journey_id FROM trace_journeys WHERE journey_id = ? OR joined_to = ?"


def hop_from_row(row: Any, when: Callable[[Any], datetime] = datetime.fromisoformat) -> StoredHop:
    """A ``trace_hops`` row (either store's) as a StoredHop."""
    hop = TraceHop(
        at=when(row[2]),
        place=row[3],
        kind=row[4],
        outcome=row[5],
        latency_ms=float(row[6]),
        ids=json.loads(row[7]),
    )
    return StoredHop(row[0], int(row[1]), hop, row[8], row[9])


def append(db: Db, hops: Sequence[TraceHop], new_journey_id: str) -> str:
    """Append one exchange's hops (see ``TraceStore.append_trace``); in a transaction."""
    pairs = sorted({pair for hop in hops for pair in hop.indexed()})
    roots = _roots(db, pairs) if pairs else []
    if roots:
        journey = root_of(roots)
        for other, _ in roots:
            if other != journey:
                db.execute(
                    "UPDATE trace_journeys SET joined_to = ? WHERE journey_id = ? OR joined_to = ?",
                    (journey, other, other),
                )
    else:
        journey = new_journey_id
        db.execute(
            "INSERT INTO trace_journeys (journey_id, started_at) VALUES (?, ?)",
            (journey, instant(hops[0].at)),
        )
    last = db.execute(
        "SELECT seq, hash FROM trace_hops WHERE journey_id = ? ORDER BY seq DESC LIMIT 1",
        (journey,),
    ).fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    db.executemany(
        "INSERT INTO trace_hops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_hop_params(s) for s in chained(journey, seq, prev, hops)],
    )
    db.executemany(
        "INSERT INTO trace_ids (id_value, id_kind, journey_id) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(value, kind, journey) for kind, value in pairs],
    )
    return journey


def roots_sql(count: int) -> str:
    """The roots of ``count`` (id value, id kind) pairs: one primary-key probe per pair.

    SQLite plans ``(a, b) IN (VALUES …)`` as a scan of the whole ``trace_ids`` table,
    which made every append slower as the trace grew.
    """
    marks = " OR ".join("(i.id_value = ? AND i.id_kind = ?)" for _ in range(count))
    return f"{_ROOTS} WHERE {marks}"


def _roots(db: Db, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    params = [x for kind, value in pairs for x in (value, kind)]
    return [(row[0], row[1]) for row in db.execute(roots_sql(len(pairs)), params)]


def _hop_params(stored: StoredHop) -> tuple[object, ...]:
    hop = stored.hop
    return (
        stored.journey_id,
        stored.seq,
        instant(hop.at),
        hop.place,
        hop.kind,
        hop.outcome,
        hop.latency_ms,
        ids_text(hop.ids),
        stored.prev_hash,
        stored.hash,
    )


def find(db: Db, value: str) -> Journey | None:
    """The whole journey of an id value or journey id (see ``TraceStore.find_journey``)."""
    row = db.execute(
        "SELECT COALESCE(joined_to, journey_id) FROM trace_journeys WHERE journey_id = ?",
        (value,),
    ).fetchone()
    if row is not None:
        root = str(row[0])
    else:
        roots = [r[0] for r in db.execute(f"{_ROOTS} WHERE i.id_value = ?", (value,))]
        if not roots:
            return None
        if len(roots) > 1:
            raise AmbiguousId(value, sorted(roots))
        root = roots[0]
    members = [r[0] for r in db.execute(_MEMBERS, (root, root))]
    marks = ", ".join("?" for _ in members)
    rows = db.execute(
        f"{_HOPS} WHERE journey_id IN ({marks}) ORDER BY at, journey_id, seq", members
    )
    return Journey(root, tuple(hop_from_row(r) for r in rows))


def chain(db: Db, journey_id: str) -> list[StoredHop]:
    rows = db.execute(f"{_HOPS} WHERE journey_id = ? ORDER BY seq", (journey_id,))
    return [hop_from_row(r) for r in rows]


def journey_ids(db: Db) -> list[str]:
    rows = db.execute("SELECT journey_id FROM trace_journeys ORDER BY started_at, journey_id")
    return [r[0] for r in rows]


class SqliteTrace:
    """``TraceStore`` for ``SqliteStore`` (its ``_read``/``_write`` run on its thread)."""

    async def _read(self, fn: Callable[[Db], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[Db], T]) -> T:
        raise NotImplementedError

    async def append_trace(self, exchanges: Sequence[Sequence[TraceHop]]) -> list[str]:
        groups = [(list(hops), str(uuid.uuid4())) for hops in exchanges if hops]
        if not groups:
            return []
        return await self._write(lambda db: [append(db, h, new) for h, new in groups])

    async def find_journey(self, value: str) -> Journey | None:
        return await self._read(lambda db: find(db, value))

    async def journey_chain(self, journey_id: str) -> list[StoredHop]:
        return await self._read(lambda db: chain(db, journey_id))

    async def trace_journey_ids(self) -> list[str]:
        return await self._read(journey_ids)
