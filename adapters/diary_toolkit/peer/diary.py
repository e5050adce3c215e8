"""The diary peers' SQLite engine: clinics, clinicians, slots and appointments, in its own terms.

The REST peer serves it as JSON, the SOAP peer through its own vocabulary.

One connection and one lock: every write is a single transaction, and a slot
moves AVAILABLE -> BOOKED only by a conditional UPDATE, so twenty bookings of
one slot book it once. The patient travels as an opaque JSON blob, as many
real diaries store the referral payload.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from adapters.diary_toolkit.peer import seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    id TEXT PRIMARY KEY, clinic_code TEXT NOT NULL, staff_code TEXT NOT NULL,
    start_local TEXT NOT NULL, start_utc TEXT NOT NULL, minutes INTEGER NOT NULL,
    channel TEXT NOT NULL, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS slots_by_clinic ON slots (clinic_code, start_local);
CREATE TABLE IF NOT EXISTS appointments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT NOT NULL UNIQUE,
    idem_key TEXT NOT NULL UNIQUE, slot_id TEXT NOT NULL REFERENCES slots (id),
    status TEXT NOT NULL, reason TEXT NOT NULL, patient TEXT NOT NULL, document TEXT,
    referral_ref TEXT, booked_by TEXT, created_utc TEXT NOT NULL, updated_utc TEXT NOT NULL
);
"""

_SLOT = "id, clinic_code, staff_code, start_local, start_utc, minutes, channel, state"
_APPT = (
    "a.ref, a.status, a.reason, a.patient, a.document, a.referral_ref, a.created_utc, "
    "a.idem_key, a.slot_id"
)


class Redacted(tuple[Any, ...]):
    """Statement parameters whose repr hides them: aiosqlite logs calls at DEBUG."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} redacted parameters>"


class DiaryError(Exception):
    """A business refusal, carried to the wire as an HTTP status and errorCode."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class NewBooking:
    idem_key: str
    slot_id: str
    start_local: str
    minutes: int
    reason: str
    patient: Any
    document: Any
    referral_ref: str | None
    booked_by: str | None


class Diary:
    def __init__(self, conn: aiosqlite.Connection, zone: ZoneInfo) -> None:
        self.conn = conn
        self.zone = zone
        self.lock = asyncio.Lock()
        self.clinics = {c.code: c for c in seed.CLINICS}
        self.clinicians = {c.staff_code: c for c in seed.CLINICIANS}

    @classmethod
    async def open(cls, path: str, zone: ZoneInfo, days: int) -> Diary:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        diary = cls(conn, zone)
        await conn.executescript(SCHEMA)
        today = datetime.now(UTC).astimezone(zone).date()
        rows = [
            (s.id, s.clinic_code, s.staff_code, s.start_local, s.start_utc, s.minutes, s.channel)
            for s in seed.slots(zone, today, days)
        ]
        # One transaction for the whole seed: one sync to disk, not one per slot.
        await conn.execute("BEGIN")
        await conn.executemany(
            f"INSERT OR IGNORE INTO slots ({_SLOT}) VALUES (?, ?, ?, ?, ?, ?, ?, 'AVAILABLE')",
            rows,
        )
        await conn.execute("COMMIT")
        return diary

    async def close(self) -> None:
        await self.conn.close()

    async def slots(
        self, clinic: str, states: list[str], start: str, end: str | None, offset: int, limit: int
    ) -> list[dict[str, Any]]:
        sql = f"SELECT {_SLOT} FROM slots WHERE clinic_code = ? AND start_local >= ?"
        params: list[Any] = [clinic, start]
        if end is not None:
            sql += " AND start_local <= ?"
            params.append(end)
        sql += f" AND state IN ({', '.join('?' for _ in states)})"
        sql += " ORDER BY start_utc, staff_code, id LIMIT ? OFFSET ?"
        async with self.conn.execute(sql, [*params, *states, limit, offset]) as cur:
            return [self.slot_json(tuple(r)) for r in await cur.fetchall()]

    async def book(self, new: NewBooking, now: datetime) -> tuple[dict[str, Any], bool]:
        """The appointment, and whether it was made now (False: an idempotent replay)."""
        async with self.lock:
            old = await self._appointment("a.idem_key = ?", new.idem_key)
            if old is not None:
                if old["slot"]["apptSlotId"] != new.slot_id:
                    raise DiaryError(422, "IDEMPOTENCY_KEY_REUSED", "key used for another slot")
                return old, False
            slot = await self._slot(new.slot_id)
            if slot is None:
                raise DiaryError(404, "SLOT_NOT_FOUND", "no such slot")
            if (slot[3], slot[5]) != (new.start_local, new.minutes):
                raise DiaryError(422, "SLOT_MISMATCH", "start or duration differ from the slot")
            if slot[7] != "AVAILABLE":
                raise DiaryError(409, "SLOT_TAKEN", "the slot is not available")
            if slot[4] <= seed.utc_stamp(now):
                raise DiaryError(409, "SLOT_IN_PAST", "the slot has started")
            await self._write_booking(new, now)
            made = await self._appointment("a.idem_key = ?", new.idem_key)
            assert made is not None
            return made, True

    async def _write_booking(self, new: NewBooking, now: datetime) -> None:
        stamp = now.isoformat()
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = await self.conn.execute(
                "UPDATE slots SET state = 'BOOKED' WHERE id = ? AND state = 'AVAILABLE'",
                (new.slot_id,),
            )
            if cur.rowcount != 1:
                raise DiaryError(409, "SLOT_TAKEN", "the slot is not available")
            cur = await self.conn.execute(
                "INSERT INTO appointments (ref, idem_key, slot_id, status, reason, patient, "
                "document, referral_ref, booked_by, created_utc, updated_utc) "
                "VALUES ('pending', ?, ?, 'BOOKED', ?, ?, ?, ?, ?, ?, ?)",
                Redacted(
                    (
                        new.idem_key,
                        new.slot_id,
                        new.reason,
                        json.dumps(new.patient),
                        json.dumps(new.document) if new.document is not None else None,
                        new.referral_ref,
                        new.booked_by,
                        stamp,
                        stamp,
                    )
                ),
            )
            seq = cur.lastrowid
            await self.conn.execute(
                "UPDATE appointments SET ref = ? WHERE seq = ?", (f"APT-{seq:06d}", seq)
            )
            await self.conn.execute("COMMIT")
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise

    async def cancel(self, ref: str, now: datetime) -> dict[str, Any]:
        async with self.lock:
            appt = await self._appointment("a.ref = ?", ref)
            if appt is None:
                raise DiaryError(404, "APPOINTMENT_NOT_FOUND", "no such appointment")
            if appt["status"] != "BOOKED":
                raise DiaryError(409, "ALREADY_CANCELLED", "the appointment is cancelled")
            await self.conn.execute("BEGIN IMMEDIATE")
            await self.conn.execute(
                "UPDATE appointments SET status = 'CANCELLED', updated_utc = ? WHERE ref = ?",
                (now.isoformat(), ref),
            )
            await self.conn.execute(
                "UPDATE slots SET state = 'AVAILABLE' WHERE id = ?", (appt["slot"]["apptSlotId"],)
            )
            await self.conn.execute("COMMIT")
            found = await self._appointment("a.ref = ?", ref)
            assert found is not None
            return found

    async def appointment(self, ref: str) -> dict[str, Any] | None:
        return await self._appointment("a.ref = ?", ref)

    async def count_appointments(self, slot_id: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM appointments", tuple[str, ...]()
        if slot_id is not None:
            sql, params = sql + " WHERE slot_id = ?", (slot_id,)
        async with self.conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _slot(self, slot_id: str) -> tuple[Any, ...] | None:
        async with self.conn.execute(f"SELECT {_SLOT} FROM slots WHERE id = ?", (slot_id,)) as cur:
            row = await cur.fetchone()
        return None if row is None else tuple(row)

    async def _appointment(self, where: str, value: str) -> dict[str, Any] | None:
        sql = f"SELECT {_APPT} FROM appointments a WHERE {where}"
        async with self.conn.execute(sql, (value,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        slot = await self._slot(row[8])
        assert slot is not None
        return {
            "appointmentRef": row[0],
            "status": row[1],
            "slot": self.slot_json(slot),
            "reason": row[2],
            "patient": json.loads(row[3]),
            "document": json.loads(row[4]) if row[4] else None,
            "referralRef": row[5],
            "createdUtc": row[6],
        }

    def slot_json(self, row: tuple[Any, ...]) -> dict[str, Any]:
        who = self.clinicians[row[2]]
        return {
            "apptSlotId": row[0],
            "clinicCode": row[1],
            "clinician": {
                "staffCode": who.staff_code,
                "title": who.title,
                "forename": who.forename,
                "surname": who.surname,
                "grade": who.grade,
                "sex": who.sex,
                "sdsUserId": who.sds_user_id,
            },
            "startLocal": row[3],
            "durationMins": row[5],
            "channel": row[6],
            "state": row[7],
        }

    def clinic_json(self, code: str) -> dict[str, Any]:
        c = self.clinics[code]
        return {
            "clinicCode": c.code,
            "name": c.name,
            "site": {
                "siteCode": c.site_code,
                "name": c.site_name,
                "addressLines": list(c.address_lines),
                "town": c.town,
                "postcode": c.postcode,
            },
        }
