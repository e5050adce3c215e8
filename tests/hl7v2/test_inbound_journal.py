"""The SIU listener's journal over real MLLP: who a resend is, what is replayed, for how long."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from structlog.testing import capture_logs

from adapters.contract import BookingChange
from adapters.domain import BookingStatus, utcnow
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2._journal import Journal
from adapters.hl7v2.peer import DeskPatient, PasPeer
from adapters.hl7v2.peer.diary import CANCELLED
from tests.contract.builders import call_context
from tests.hl7v2.helpers import (
    acks_of,
    adapter_over,
    demo_tables,
    desk_siu,
    exchange_frame,
    siu_text,
)

PATIENT = DeskPatient(
    "Okonkwo", "Ada", "F", date(1980, 1, 2), nhs_number="9434765919", mrn="M1", postcode="FB1 2CD"
)


async def _send(adapter: Hl7v2Adapter, text: str) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, ERR-3) of the listener's answer to ``text``."""
    assert adapter.listen_address is not None
    (answer,) = acks_of(await exchange_frame(adapter.listen_address, text.encode()))
    return answer


def _from(text: str, application: str, facility: str) -> str:
    """``text`` as if sent by another application and facility (MSH-3, MSH-4)."""
    return text.replace("|PAS|PAS-FACILITY|", f"|{application}|{facility}|", 1)


async def test_same_control_id_from_another_sender_is_applied(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """A cancellation reusing another sender's MSH-10 is applied, not answered from the cache."""
    item = await desk_siu(peer, hl7, PATIENT)
    assert (await _send(hl7, siu_text(peer, "S12", item, "MSG0001")))[0] == "AA"
    assert (await hl7.get(item.filler_id, call_context())).status is BookingStatus.BOOKED
    cancel = siu_text(peer, "S15", replace(item, status=CANCELLED), "MSG0001")
    assert (await _send(hl7, _from(cancel, "PAS-DESK", "WARD-9")))[0] == "AA"
    assert (await hl7.get(item.filler_id, call_context())).status is BookingStatus.CANCELLED


async def test_same_sender_same_id_other_content_is_applied_and_logged(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """Another message under a known (sender, MSH-10) is evaluated; the clash is logged by ids."""
    item = await desk_siu(peer, hl7, PATIENT)
    assert (await _send(hl7, siu_text(peer, "S12", item, "MSG0002")))[0] == "AA"
    cancel = siu_text(peer, "S15", replace(item, status=CANCELLED), "MSG0002")
    with capture_logs() as logs:
        assert (await _send(hl7, cancel))[0] == "AA"
    assert (await hl7.get(item.filler_id, call_context())).status is BookingStatus.CANCELLED
    (clash,) = [e for e in logs if e["event"] == "siu_control_id_reused"]
    assert clash["control_id"] == "MSG0002" and clash["first_hash"] != clash["this_hash"]
    text = repr(logs)
    assert "Okonkwo" not in text and "9434765919" not in text and "FB1 2CD" not in text


async def test_identical_resend_is_acked_once_applied_once(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """An identical resend (even with a new MSH-7 time) gets the first AA and is not reported."""
    changes: list[BookingChange] = []

    async def listener(name: str, change: BookingChange) -> None:
        changes.append(change)

    hl7.subscribe(listener)
    item = await desk_siu(peer, hl7, PATIENT)
    text = siu_text(peer, "S12", item, "MSG0003")
    first = await _send(hl7, text)
    fields = text.split("|")
    fields[6] = "20991231235959"  # MSH-7: some engines restamp the time on a resend
    assert await _send(hl7, "|".join(fields)) == first == ("AA", "MSG0003", "")
    assert len(changes) == 1


async def test_rejection_is_not_replayed_after_the_mapping_is_fixed(
    peer: PasPeer, tmp_path: Path
) -> None:
    """An SIU refused AE for a missing mapping row is applied when resent after the row is added."""

    def without_mrn(text: str) -> str:
        return "\n".join(line for line in text.splitlines() if not line.startswith("RVR01"))

    tables = demo_tables(tmp_path / "tables", identifier_systems=without_mrn)
    async with adapter_over(peer, tmp_path, mappings=str(tables)) as adapter:
        item = await desk_siu(peer, adapter, PATIENT)
        text = siu_text(peer, "S12", item, "MSG0004")
        assert await _send(adapter, text) == ("AE", "MSG0004", "103")
    demo_tables(tables)  # the integrator adds the missing row
    async with adapter_over(peer, tmp_path, mappings=str(tables)) as adapter:
        assert await _send(adapter, text) == ("AA", "MSG0004", "")
        assert (await adapter.get(item.filler_id, call_context())).status is BookingStatus.BOOKED


async def test_remembered_messages_expire_after_the_retention(
    peer: PasPeer, tmp_path: Path
) -> None:
    """Past ``inbound_retention_s`` an identical resend is evaluated (and reported) again."""
    changes: list[BookingChange] = []

    async def listener(name: str, change: BookingChange) -> None:
        changes.append(change)

    async with adapter_over(peer, tmp_path, inbound_retention_s=60) as adapter:
        adapter.subscribe(listener)
        item = await desk_siu(peer, adapter, PATIENT)
        text = siu_text(peer, "S12", item, "MSG0005")
        # The listener's clock is injected, so the run's speed cannot move the retention.
        now = utcnow()
        adapter.receiver.clock = lambda: now
        assert (await _send(adapter, text))[0] == "AA"
        now += timedelta(seconds=59)
        assert (await _send(adapter, text))[0] == "AA"
        assert len(changes) == 1
        now += timedelta(seconds=2)
        assert (await _send(adapter, text))[0] == "AA"
        assert len(changes) == 2


#: The journal as the adapter wrote it before inbound messages were keyed by sender.
_OLD_SCHEMA = """
CREATE TABLE attempts (request_id TEXT PRIMARY KEY, generation INTEGER NOT NULL,
    placer_id TEXT NOT NULL UNIQUE, control_id TEXT NOT NULL, state TEXT NOT NULL,
    supplier_ref TEXT, updated REAL NOT NULL);
CREATE TABLE bookings (supplier_ref TEXT PRIMARY KEY, placer_id TEXT, booking TEXT NOT NULL);
CREATE INDEX bookings_by_placer ON bookings (placer_id);
CREATE TABLE inbound (control_id TEXT PRIMARY KEY, ack TEXT NOT NULL);
CREATE TABLE events (at TEXT NOT NULL, kind TEXT NOT NULL, placer_id TEXT, supplier_ref TEXT);
"""


async def test_an_old_journal_file_is_migrated_keeping_its_bookings(
    peer: PasPeer, tmp_path: Path
) -> None:
    """A journal of the old schema opens: its bookings are kept, its cached rejections dropped."""
    async with adapter_over(peer, tmp_path) as adapter:
        item = await desk_siu(peer, adapter, PATIENT)
        assert (await _send(adapter, siu_text(peer, "S12", item, "MSG0006")))[0] == "AA"
        booking = await adapter.get(item.filler_id, call_context())
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as old:
        rows = old.execute("SELECT supplier_ref, placer_id, booking FROM bookings").fetchall()
    path.unlink()
    with sqlite3.connect(path) as old:
        old.executescript(_OLD_SCHEMA)
        old.executemany("INSERT INTO bookings VALUES (?, ?, ?)", rows)
        old.execute("INSERT INTO inbound VALUES ('MSG0007', 'MSH|^~\\&|cached AE')")
    cancel = siu_text(peer, "S15", replace(item, status=CANCELLED), "MSG0007")
    for _ in range(2):  # the second open finds the file already migrated
        async with adapter_over(peer, tmp_path) as adapter:
            assert await adapter.get(item.filler_id, call_context()) == booking
    async with adapter_over(peer, tmp_path) as adapter:
        assert await _send(adapter, cancel) == ("AA", "MSG0007", "")
        assert (await adapter.get(item.filler_id, call_context())).status is BookingStatus.CANCELLED
    with sqlite3.connect(path) as migrated:
        assert migrated.execute("PRAGMA user_version").fetchone() == (1,)


async def test_journals_opening_one_new_file_at_once_all_open(tmp_path: Path) -> None:
    """Six journals opening one new file together (serve --workers) all open at version 1."""
    for round_no in range(10):
        path = tmp_path / f"journal-{round_no}.sqlite3"
        journals = await asyncio.gather(*(Journal.open(str(path)) for _ in range(6)))
        for journal in journals:
            await journal.close()
        with sqlite3.connect(path) as opened:
            assert opened.execute("PRAGMA user_version").fetchone() == (1,)
        opened.close()
