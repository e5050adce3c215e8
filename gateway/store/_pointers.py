"""The registry journal in SQLite: statements behind ``SqliteStore``'s pointer methods.

Each function runs on the store's connection thread, inside the transaction (or
the read) the store opened for it.
An entry is due when ``due_at <= now``; it is free when nobody holds a live
lease on it; it is next for its appointment when no earlier entry of that
appointment is still pending. Leasing takes the oldest entry that is all three.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from gateway.store._sql import to_text
from gateway.store.base import AppointmentVersion, PointerBacklog, PointerWork, RegistryPointer

INSERT_ENTRY = (
    "INSERT INTO pointer_journal (appointment_id, version, recorded_at, due_at) VALUES (?, ?, ?, ?)"
)

_NEXT = """
SELECT j.seq, j.appointment_id, j.version, j.attempts FROM pointer_journal j
WHERE j.state = 'pending' AND j.due_at <= ?
  AND (j.lease_until IS NULL OR j.lease_until < ?)
  AND NOT EXISTS (
    SELECT 1 FROM pointer_journal e
    WHERE e.appointment_id = j.appointment_id AND e.state = 'pending' AND e.seq < j.seq)
ORDER BY j.seq LIMIT 1
"""


def entry_params(version: AppointmentVersion) -> tuple[object, ...]:
    at = to_text(version.last_modified)
    return (version.appointment_id, version.version, at, at)


def lease(db: sqlite3.Connection, owner: str, now: datetime, lease_s: float) -> PointerWork | None:
    stamp = to_text(now)
    row = db.execute(_NEXT, (stamp, stamp)).fetchone()
    if row is None:
        return None
    until = to_text(now + timedelta(seconds=lease_s))
    db.execute(
        "UPDATE pointer_journal SET owner = ?, lease_until = ?, attempts = attempts + 1"
        " WHERE seq = ?",
        (owner, until, row["seq"]),
    )
    return PointerWork(row["seq"], row["appointment_id"], row["version"], row["attempts"] + 1)


def finish(
    db: sqlite3.Connection, work: PointerWork, now: datetime, pointer: RegistryPointer | None
) -> None:
    db.execute(
        "UPDATE pointer_journal SET state = 'delivered', finished_at = ?, owner = NULL,"
        " lease_until = NULL, last_error = NULL WHERE seq = ? AND state = 'pending'",
        (to_text(now), work.seq),
    )
    if pointer is None:
        return
    db.execute(
        "INSERT INTO registry_pointers (appointment_id, document_id, content_hash,"
        " subject_hash, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (appointment_id) DO UPDATE SET document_id = excluded.document_id,"
        " content_hash = excluded.content_hash, subject_hash = excluded.subject_hash,"
        " version = excluded.version, updated_at = excluded.updated_at",
        (
            pointer.appointment_id,
            pointer.document_id,
            pointer.content_hash,
            pointer.subject_hash,
            pointer.version,
            to_text(now),
        ),
    )


def retry(db: sqlite3.Connection, work: PointerWork, due: datetime, error: str) -> None:
    db.execute(
        "UPDATE pointer_journal SET due_at = ?, owner = NULL, lease_until = NULL,"
        " last_error = ? WHERE seq = ? AND state = 'pending'",
        (to_text(due), error[:200], work.seq),
    )


def refuse(db: sqlite3.Connection, work: PointerWork, now: datetime, error: str) -> None:
    db.execute(
        "UPDATE pointer_journal SET state = 'refused', finished_at = ?, owner = NULL,"
        " lease_until = NULL, last_error = ? WHERE seq = ? AND state = 'pending'",
        (to_text(now), error[:200], work.seq),
    )


def pointer(db: sqlite3.Connection, appointment_id: str) -> RegistryPointer | None:
    row = db.execute(
        "SELECT appointment_id, document_id, content_hash, subject_hash, version"
        " FROM registry_pointers WHERE appointment_id = ?",
        (appointment_id,),
    ).fetchone()
    if row is None:
        return None
    return RegistryPointer(
        row["appointment_id"],
        row["document_id"],
        row["content_hash"],
        row["subject_hash"],
        row["version"],
    )


def backlog(db: sqlite3.Connection, stuck_after: int) -> PointerBacklog:
    row = db.execute(
        "SELECT COUNT(*) AS pending, COALESCE(SUM(attempts >= ?), 0) AS stuck,"
        " MIN(recorded_at) AS oldest FROM pointer_journal WHERE state = 'pending'",
        (stuck_after,),
    ).fetchone()
    refused = db.execute("SELECT COUNT(*) FROM pointer_journal WHERE state = 'refused'").fetchall()
    oldest = datetime.fromisoformat(row["oldest"]) if row["oldest"] else None
    return PointerBacklog(row["pending"], row["stuck"], refused[0][0], oldest)
