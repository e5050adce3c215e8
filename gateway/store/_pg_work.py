"""Leased work in PostgreSQL: the registry journal, the HL7 outbox and ITK receipts.

The same rules as the SQLite store's ``_pointers``, ``_outbox`` and ``_itk``.
Journal and outbox entries are leased by one ``UPDATE ... WHERE seq = (SELECT
... FOR UPDATE SKIP LOCKED)``, so replicas leasing at once never take the same
entry and never wait on each other's row; an entry is leased only when no
earlier entry of its appointment is still pending, so one appointment's work
goes out in version order (its versions, and so its entries, commit in order).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from gateway.store._pg_sql import Row, aware, utc
from gateway.store.base import (
    AppointmentVersion,
    Hl7Origin,
    ItkReceipt,
    NoticeOutcome,
    NoticeState,
    NoticeWork,
    PointerBacklog,
    PointerWork,
    RegistryPointer,
)

#: A concurrent release can delete a row between our insert and our read: try again.
_CLAIM_ATTEMPTS = 5


def _lease_sql(table: str) -> str:
    return f"""
UPDATE {table} SET owner = $2, lease_until = $3, attempts = attempts + 1
WHERE seq = (
  SELECT j.seq FROM {table} j
  WHERE j.state = 'pending' AND j.due_at <= $1
    AND (j.lease_until IS NULL OR j.lease_until < $1)
    AND NOT EXISTS (
      SELECT 1 FROM {table} e
      WHERE e.appointment_id = j.appointment_id AND e.state = 'pending' AND e.seq < j.seq)
  ORDER BY j.seq LIMIT 1
  FOR UPDATE OF j SKIP LOCKED)
RETURNING seq, appointment_id, version, attempts
"""


_LEASE_POINTER = _lease_sql("pointer_journal")
_LEASE_NOTICE = _lease_sql("hl7_outbox")

INSERT_POINTER_ENTRY = (
    "INSERT INTO pointer_journal (appointment_id, version, recorded_at, due_at)"
    " VALUES ($1, $2, $3, $3)"
)
#: Written with a supplier-side version, only when an HL7 consumer made the booking.
INSERT_NOTICE_ENTRY = (
    "INSERT INTO hl7_outbox (appointment_id, version, recorded_at, due_at)"
    " SELECT $1::text, $2::integer, $3::timestamptz, $3::timestamptz"
    " WHERE EXISTS (SELECT 1 FROM hl7_origins WHERE appointment_id = $1::text)"
)


def entry_params(version: AppointmentVersion) -> tuple[object, ...]:
    return (version.appointment_id, version.version, utc(version.last_modified))


# -- registry journal ---------------------------------------------------------------


async def lease_pointer(conn: Any, owner: str, now: datetime, lease_s: float) -> PointerWork | None:
    until = utc(now) + timedelta(seconds=lease_s)
    row = await conn.fetchrow(_LEASE_POINTER, utc(now), owner, until)
    if row is None:
        return None
    return PointerWork(row["seq"], row["appointment_id"], row["version"], row["attempts"])


async def finish_pointer(
    conn: Any, work: PointerWork, now: datetime, pointer: RegistryPointer | None
) -> None:
    async with conn.transaction():
        await conn.execute(
            "UPDATE pointer_journal SET state = 'delivered', finished_at = $1, owner = NULL,"
            " lease_until = NULL, last_error = NULL WHERE seq = $2 AND state = 'pending'",
            utc(now),
            work.seq,
        )
        if pointer is None:
            return
        await conn.execute(
            "INSERT INTO registry_pointers (appointment_id, document_id, content_hash,"
            " subject_hash, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (appointment_id) DO UPDATE SET document_id = excluded.document_id,"
            " content_hash = excluded.content_hash, subject_hash = excluded.subject_hash,"
            " version = excluded.version, updated_at = excluded.updated_at",
            pointer.appointment_id,
            pointer.document_id,
            pointer.content_hash,
            pointer.subject_hash,
            pointer.version,
            utc(now),
        )


async def retry_pointer(conn: Any, work: PointerWork, due: datetime, error: str) -> None:
    await conn.execute(
        "UPDATE pointer_journal SET due_at = $1, owner = NULL, lease_until = NULL,"
        " last_error = $2 WHERE seq = $3 AND state = 'pending'",
        utc(due),
        error[:200],
        work.seq,
    )


async def refuse_pointer(conn: Any, work: PointerWork, now: datetime, error: str) -> None:
    await conn.execute(
        "UPDATE pointer_journal SET state = 'refused', finished_at = $1, owner = NULL,"
        " lease_until = NULL, last_error = $2 WHERE seq = $3 AND state = 'pending'",
        utc(now),
        error[:200],
        work.seq,
    )


async def pointer(conn: Any, appointment_id: str) -> RegistryPointer | None:
    row = await conn.fetchrow(
        "SELECT appointment_id, document_id, content_hash, subject_hash, version"
        " FROM registry_pointers WHERE appointment_id = $1",
        appointment_id,
    )
    if row is None:
        return None
    return RegistryPointer(
        row["appointment_id"],
        row["document_id"],
        row["content_hash"],
        row["subject_hash"],
        row["version"],
    )


async def backlog(conn: Any, stuck_after: int) -> PointerBacklog:
    row = await conn.fetchrow(
        "SELECT COUNT(*) FILTER (WHERE state = 'pending') AS pending,"
        " COUNT(*) FILTER (WHERE state = 'pending' AND attempts >= $1) AS stuck,"
        " COUNT(*) FILTER (WHERE state = 'refused') AS refused,"
        " MIN(recorded_at) FILTER (WHERE state = 'pending') AS oldest"
        " FROM pointer_journal WHERE state IN ('pending', 'refused')",
        stuck_after,
    )
    oldest = None if row["oldest"] is None else aware(row["oldest"])
    return PointerBacklog(row["pending"], row["stuck"], row["refused"], oldest)


# -- HL7 origins and outbox ---------------------------------------------------------


async def record_origin(conn: Any, origin: Hl7Origin) -> None:
    await conn.execute(
        "INSERT INTO hl7_origins (appointment_id, sending_application, sending_facility,"
        " placer_id, recorded_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (appointment_id) DO NOTHING",
        origin.appointment_id,
        origin.sending_application,
        origin.sending_facility,
        origin.placer_id,
        utc(origin.recorded_at),
    )


async def origin(conn: Any, appointment_id: str) -> Hl7Origin | None:
    row = await conn.fetchrow(
        "SELECT appointment_id, sending_application, sending_facility, placer_id,"
        " recorded_at FROM hl7_origins WHERE appointment_id = $1",
        appointment_id,
    )
    if row is None:
        return None
    return Hl7Origin(
        row["appointment_id"],
        row["sending_application"],
        row["sending_facility"],
        row["placer_id"],
        aware(row["recorded_at"]),
    )


async def lease_notice(conn: Any, owner: str, now: datetime, lease_s: float) -> NoticeWork | None:
    until = utc(now) + timedelta(seconds=lease_s)
    row = await conn.fetchrow(_LEASE_NOTICE, utc(now), owner, until)
    if row is None:
        return None
    return NoticeWork(row["seq"], row["appointment_id"], row["version"], row["attempts"])


async def finish_notice(
    conn: Any, work: NoticeWork, now: datetime, outcome: NoticeOutcome, error: str
) -> None:
    await conn.execute(
        "UPDATE hl7_outbox SET state = $1, finished_at = $2, owner = NULL, lease_until = NULL,"
        " last_error = $3 WHERE seq = $4 AND state = 'pending'",
        outcome.value,
        utc(now),
        error[:200] or None,
        work.seq,
    )


async def retry_notice(conn: Any, work: NoticeWork, due: datetime, error: str) -> None:
    await conn.execute(
        "UPDATE hl7_outbox SET due_at = $1, owner = NULL, lease_until = NULL,"
        " last_error = $2 WHERE seq = $3 AND state = 'pending'",
        utc(due),
        error[:200],
        work.seq,
    )


async def notices(conn: Any, appointment_id: str) -> list[NoticeState]:
    rows = await conn.fetch(
        "SELECT seq, appointment_id, version, state, attempts, last_error FROM hl7_outbox"
        " WHERE appointment_id = $1 ORDER BY seq",
        appointment_id,
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


# -- ITK receipts -------------------------------------------------------------------


def _receipt(row: Row) -> ItkReceipt:
    return ItkReceipt(
        tracking_id=row["tracking_id"],
        envelope_hash=row["envelope_hash"],
        answered=row["state"] == "answered",
        received_at=aware(row["received_at"]),
        answer=None if row["answer"] is None else bytes(row["answer"]),
        referral_ids=tuple(row["referral_ids"] or ()),
    )


async def claim_receipt(
    conn: Any, tracking_id: str, envelope_hash: str, owner: str, now: datetime, lease_s: float
) -> ItkReceipt | None:
    """None when the claim is now ``owner``'s; else the receipt as another holds it."""
    until = utc(now) + timedelta(seconds=lease_s)
    async with conn.transaction():
        for _ in range(_CLAIM_ATTEMPTS):
            inserted = await conn.fetchval(
                "INSERT INTO itk_receipts (tracking_id, envelope_hash, state, owner,"
                " lease_until, received_at) VALUES ($1, $2, 'pending', $3, $4, $5)"
                " ON CONFLICT (tracking_id) DO NOTHING RETURNING true",
                tracking_id,
                envelope_hash,
                owner,
                until,
                utc(now),
            )
            if inserted:
                return None
            row = await conn.fetchrow(
                "SELECT * FROM itk_receipts WHERE tracking_id = $1 FOR UPDATE", tracking_id
            )
            if row is None:
                continue  # released since our insert found it: claim afresh
            lapsed = row["lease_until"] is None or row["lease_until"] < now
            if row["state"] == "pending" and (lapsed or row["owner"] == owner):
                await conn.execute(
                    "UPDATE itk_receipts SET owner = $1, lease_until = $2, envelope_hash = $3"
                    " WHERE tracking_id = $4",
                    owner,
                    until,
                    envelope_hash,
                    tracking_id,
                )
                return None
            return _receipt(row)
    raise RuntimeError("ITK receipt claim kept racing with releases")


async def answer_receipt(
    conn: Any,
    tracking_id: str,
    owner: str,
    body: bytes,
    referral_ids: Sequence[str],
    now: datetime,
) -> None:
    await conn.execute(
        "UPDATE itk_receipts SET state = 'answered', answer = $1, referral_ids = $2,"
        " answered_at = $3, owner = NULL, lease_until = NULL"
        " WHERE tracking_id = $4 AND owner = $5 AND state = 'pending'",
        body,
        list(referral_ids),
        utc(now),
        tracking_id,
        owner,
    )


async def release_receipt(conn: Any, tracking_id: str, owner: str) -> None:
    await conn.execute(
        "DELETE FROM itk_receipts WHERE tracking_id = $1 AND owner = $2 AND state = 'pending'",
        tracking_id,
        owner,
    )
