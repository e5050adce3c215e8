"""The reference PAS's own diary: schedules from CSV, appointments in SQLite.

Slots are not stored: they are the wall-clock templates of ``diary.csv``
unrolled day by day in the PAS's zone, so a slot is (schedule code, start).
Appointments are stored with their PID as the PAS received it. A unique
index allows one live ('Booked') appointment per slot, whatever the code does.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite

from adapters.hl7_toolkit.scheduling import Staff
from adapters.hl7v2._redact import Redacted

DEFAULT_DIARY = Path(__file__).with_name("diary.csv")
BOOKED, CANCELLED, OPEN = "Booked", "Cancelled", "Open"
#: SCH-25 of an appointment the patient did not attend (SIU^S26).
NOSHOW = "Noshow"

SCHEMA = """
CREATE TABLE IF NOT EXISTS appointments (
    filler_id TEXT PRIMARY KEY,
    placer_id TEXT UNIQUE,
    schedule TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    status TEXT NOT NULL,
    pid TEXT,
    description TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_appointment_per_slot
    ON appointments (schedule, start) WHERE status = 'Booked';
CREATE TABLE IF NOT EXISTS answers (
    control_id TEXT PRIMARY KEY,
    answer TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Template:
    schedule: str
    name: str
    location: str
    appointment_type: str
    staff: Staff
    start_minute: int
    end_minute: int
    minutes: int


@dataclass(frozen=True, slots=True)
class Appointment:
    filler_id: str
    placer_id: str
    schedule: str
    start: datetime
    end: datetime
    status: str
    pid: str
    description: str
    source: str


def _clock(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def load_templates(path: Path = DEFAULT_DIARY) -> dict[str, Template]:
    """The PAS's schedules; ValueError naming the line if one is malformed."""
    out: dict[str, Template] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                template = Template(
                    schedule=row["schedule"],
                    name=row["name"],
                    location=row["location"],
                    appointment_type=row["appointment_type"],
                    staff=Staff(
                        row["staff_id"],
                        row["staff_family"],
                        row["staff_given"],
                        row["staff_prefix"],
                        row["staff_type"],
                    ),
                    start_minute=_clock(row["from"]),
                    end_minute=_clock(row["to"]),
                    minutes=int(row["minutes"]),
                )
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path.name} line {line}: {exc}") from None
            out[template.schedule] = template
    return out


def slots(template: Template, zone: ZoneInfo, first: date, days: int) -> Iterator[datetime]:
    """Start instants (UTC) of ``template`` over ``days`` local days from ``first``."""
    for offset in range(days):
        day = first + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day)
        for minute in range(
            template.start_minute, template.end_minute - template.minutes + 1, template.minutes
        ):
            wall = midnight + timedelta(minutes=minute)
            instant = wall.replace(tzinfo=zone).astimezone(UTC)
            if instant.astimezone(zone).replace(tzinfo=None) == wall:  # skip clocks-forward gaps
                yield instant


def stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class Diary:
    """SQLite appointments of the PAS; every call runs inside the caller's lock."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._sequence = itertools.count(1)

    @classmethod
    async def open(cls, database: str) -> Diary:
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(database, isolation_level=None, timeout=5.0)
        if database != ":memory:":
            await conn.execute("PRAGMA journal_mode = WAL")
        await conn.executescript(SCHEMA)
        diary = cls(conn)
        async with conn.execute("SELECT count(*) FROM appointments") as cursor:
            row = await cursor.fetchone()
        diary._sequence = itertools.count((row[0] if row else 0) + 1)
        return diary

    async def close(self) -> None:
        await self.conn.close()

    def next_filler_id(self) -> str:
        return f"PAS{next(self._sequence):08d}"

    async def answer_for(self, control_id: str) -> str | None:
        sql = "SELECT answer FROM answers WHERE control_id = ?"
        async with self.conn.execute(sql, (control_id,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def booked_starts(
        self, schedules: list[str], start: datetime, end: datetime
    ) -> set[tuple[str, str]]:
        marks = ",".join("?" for _ in schedules)
        sql = (
            f"SELECT schedule, start FROM appointments WHERE status = 'Booked' "
            f"AND schedule IN ({marks}) AND start >= ? AND start <= ?"
        )
        async with self.conn.execute(sql, (*schedules, stamp(start), stamp(end))) as cursor:
            return {(str(r[0]), str(r[1])) for r in await cursor.fetchall()}

    async def find(self, *, placer_id: str = "", filler_id: str = "") -> Appointment | None:
        if filler_id:
            where, value = "filler_id = ?", filler_id
        elif placer_id:
            where, value = "placer_id = ?", placer_id
        else:
            return None
        sql = (
            'SELECT filler_id, placer_id, schedule, start, "end", status, pid, description, '
            f"source FROM appointments WHERE {where}"
        )
        async with self.conn.execute(sql, (value,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return Appointment(
            str(row[0]),
            str(row[1] or ""),
            str(row[2]),
            _instant(row[3]),
            _instant(row[4]),
            str(row[5]),
            str(row[6] or ""),
            str(row[7]),
            str(row[8]),
        )

    async def live_at(self, schedule: str, start: datetime) -> bool:
        sql = "SELECT 1 FROM appointments WHERE status = 'Booked' AND schedule = ? AND start = ?"
        async with self.conn.execute(sql, (schedule, stamp(start))) as cursor:
            return await cursor.fetchone() is not None

    async def insert(self, item: Appointment, now: datetime) -> None:
        await self.conn.execute(
            'INSERT INTO appointments (filler_id, placer_id, schedule, start, "end", status, pid, '
            "description, source, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            Redacted(
                (
                    item.filler_id,
                    item.placer_id or None,
                    item.schedule,
                    stamp(item.start),
                    stamp(item.end),
                    item.status,
                    item.pid,
                    item.description,
                    item.source,
                    stamp(now),
                    stamp(now),
                )
            ),
        )

    async def update(
        self,
        filler_id: str,
        now: datetime,
        *,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        sets, params = ["updated = ?"], [stamp(now)]
        for column, value in (
            ("status", status),
            ("start", stamp(start) if start else None),
            ('"end"', stamp(end) if end else None),
        ):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        sql = f"UPDATE appointments SET {', '.join(sets)} WHERE filler_id = ?"
        await self.conn.execute(sql, (*params, filler_id))

    async def remember_answer(self, control_id: str, answer: str) -> None:
        await self.conn.execute(
            "INSERT OR REPLACE INTO answers (control_id, answer) VALUES (?, ?)",
            Redacted((control_id, answer)),
        )

    async def all(self) -> list[Appointment]:
        async with self.conn.execute("SELECT filler_id FROM appointments ORDER BY filler_id") as c:
            ids = [str(r[0]) for r in await c.fetchall()]
        found = [await self.find(filler_id=i) for i in ids]
        return [a for a in found if a is not None]
