"""The HL7 outbox and origins in SQLite: statements behind ``SqliteStore``'s HL7 methods.

The same shape as the registry journal (``_pointers.py``): each function runs on
the store's connection thread, inside the transaction (or the read) the store
opened for it; an entry is due when
``due_at <= now``, free when nobody holds a live lease on it, and next for its
appointment when no earlier entry of that appointment is still pending, so a
consumer hears of one booking's versions in order.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from gateway.store._sql import from_text, to_text
from gateway.store.base import AppointmentVersion, Hl7Origin, NoticeOutcome, NoticeState, NoticeWork

#: Written with a supplier-side version, only when an HL7 consumer made the booking.
INSERT_ENTRY = (
    "INSERT INTO hl7_outbox (appointment_id, version, recorded_at, due_at)"
    " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hl7_origins WHERE appointment_id = ?)"
)

_NEXT = """
SELECT j.seq, j.appointment_id, j.version, j.attempts FROM hl7_outbox j
WHERE j.state = 'pending' AND j.due_at <= ?
  AND (j.lease_until IS NULL OR j.lease_until < ?)
  AND NOT EXISTS (
    SELECT 1 FROM hl7_outbox e
    WHERE e.appointment_id = j.appointment_id AND e.state = 'pending' AND e.seq < j.seq)
ORDER BY j.seq LIMIT 1
"""


def entry_params(version: AppointmentVersion) -> tuple[object, ...]:
    at = to_text(version.last_modified)
    return (version.appointment_id, version.version, at, at, version.appointment_id)


def record_origin(db: sqlite3.Connection, origin: Hl7Origin) -> None:
    db.execute(
        "INSERT INTO hl7_origins (appointment_id, sending_application, sending_facility,"
        " placer_id, recorded_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (appointment_id) DO NOTHING",
        (
            origin.appointment_id,
            origin.sending_application,
            origin.sending_facility,
            origin.placer_id,
            to_text(origin.recorded_at),
        ),
    )


def origin(db: sqlite3.Connection, appointment_id: str) -> Hl7Origin | None:
    row = db.execute(
        "SELECT appointment_id, sending_application, sending_facility, placer_id,"
        " recorded_at FROM hl7_origins WHERE appointment_id = ?",
        (appointment_id,),
    ).fetchone()
    if row is None:
        return None
    return Hl7Origin(
        row["appointment_id"],
        row["sending_application"],
        row["sending_facility"],
        row["placer_id"],
        from_text(row["recorded_at"]),
    )


def lease(db: sqlite3.Connection, owner: str, now: datetime, lease_s: float) -> NoticeWork | None:
    stamp = to_text(now)
    row = db.execute(_NEXT, (stamp, stamp)).fetchone()
    if row is None:
        return None
    until = to_text(now + timedelta(seconds=lease_s))
    db.execute(
        "UPDATE hl7_outbox SET owner = ?, lease_until = ?, attempts = attempts + 1 WHERE seq = ?",
        (owner, until, row["seq"]),
    )
    return NoticeWork(row["seq"], row["appointment_id"], row["version"], row["attempts"] + 1)


def finish(
    db: sqlite3.Connection, work: NoticeWork, now: datetime, outcome: NoticeOutcome, error: str
) -> None:
    db.execute(
        "UPDATE hl7_outbox SET state = ?, finished_at = ?, owner = NULL, lease_until = NULL,"
        " last_error = ? WHERE seq = ? AND state = 'pending'",
        (outcome.value, to_text(now), error[:200] or None, work.seq),
    )


def retry(db: sqlite3.Connection, work: NoticeWork, due: datetime, error: str) -> None:
    db.execute(
        "UPDATE hl7_outbox SET due_at = ?, owner = NULL, lease_until = NULL,"
        " last_error = ? WHERE seq = ? AND state = 'pending'",
        (to_text(due), error[:200], work.seq),
    )


def entries(db: sqlite3.Connection, appointment_id: str) -> list[NoticeState]:
    rows = db.execute(
        "SELECT seq, appointment_id, version, state, attempts, last_error FROM hl7_outbox"
        " WHERE appointment_id = ? ORDER BY seq",
        (appointment_id,),
    ).fetchall()
    return [
        NoticeState(
            row["seq"],
            row["appointment_id"],
            row["version"],
            row["state"],
            row["attempts"],
            row["last_error"],
        )
        for row in rows
    ]
