"""The HL7 outbox and origins in SQLite: statements behind ``SqliteStore``'s HL7 methods.

The same shape as the registry journal (``_pointers.py``): each function runs
inside a transaction (or the lock) the store already holds; an entry is due when
``due_at <= now``, free when nobody holds a live lease on it, and next for its
appointment when no earlier entry of that appointment is still pending, so a
consumer hears of one booking's versions in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import aiosqlite

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


async def record_origin(db: aiosqlite.Connection, origin: Hl7Origin) -> None:
    await db.execute(
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


async def origin(db: aiosqlite.Connection, appointment_id: str) -> Hl7Origin | None:
    rows = list(
        await db.execute_fetchall(
            "SELECT appointment_id, sending_application, sending_facility, placer_id,"
            " recorded_at FROM hl7_origins WHERE appointment_id = ?",
            (appointment_id,),
        )
    )
    if not rows:
        return None
    row = rows[0]
    return Hl7Origin(
        row["appointment_id"],
        row["sending_application"],
        row["sending_facility"],
        row["placer_id"],
        from_text(row["recorded_at"]),
    )


async def lease(
    db: aiosqlite.Connection, owner: str, now: datetime, lease_s: float
) -> NoticeWork | None:
    stamp = to_text(now)
    rows = list(await db.execute_fetchall(_NEXT, (stamp, stamp)))
    if not rows:
        return None
    row = rows[0]
    until = to_text(now + timedelta(seconds=lease_s))
    await db.execute(
        "UPDATE hl7_outbox SET owner = ?, lease_until = ?, attempts = attempts + 1 WHERE seq = ?",
        (owner, until, row["seq"]),
    )
    return NoticeWork(row["seq"], row["appointment_id"], row["version"], row["attempts"] + 1)


async def finish(
    db: aiosqlite.Connection, work: NoticeWork, now: datetime, outcome: NoticeOutcome, error: str
) -> None:
    await db.execute(
        "UPDATE hl7_outbox SET state = ?, finished_at = ?, owner = NULL, lease_until = NULL,"
        " last_error = ? WHERE seq = ? AND state = 'pending'",
        (outcome.value, to_text(now), error[:200] or None, work.seq),
    )


async def retry(db: aiosqlite.Connection, work: NoticeWork, due: datetime, error: str) -> None:
    await db.execute(
        "UPDATE hl7_outbox SET due_at = ?, owner = NULL, lease_until = NULL,"
        " last_error = ? WHERE seq = ? AND state = 'pending'",
        (to_text(due), error[:200], work.seq),
    )


async def entries(db: aiosqlite.Connection, appointment_id: str) -> list[NoticeState]:
    rows = await db.execute_fetchall(
        "SELECT seq, appointment_id, version, state, attempts, last_error FROM hl7_outbox"
        " WHERE appointment_id = ? ORDER BY seq",
        (appointment_id,),
    )
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
