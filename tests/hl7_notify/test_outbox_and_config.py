"""The HL7 outbox's store side (schema 9), the SIU event chosen per change, and its config."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.domain import Booking, BookingStatus
from gateway.config import Hl7FrontDoorSettings
from gateway.hl7.notice import control_id, trigger_for
from gateway.store import Hl7Origin, NoticeOutcome
from gateway.store._sql import INSERT_VERSION, MIGRATIONS, SCHEMA_VERSION, version_params
from gateway.store.sqlite import SqliteStore
from tests.store.contract import T0, make_version


def _booking(status: BookingStatus = BookingStatus.BOOKED, minutes_later: int = 0) -> Booking:
    return make_version(status=status, start=T0 + timedelta(minutes=minutes_later)).booking


def test_the_siu_event_follows_the_change() -> None:
    """S15 cancelled, S17 deleted, S26 no-show, S13 moved, S14 anything else (spec-choices)."""
    booked = _booking()
    assert trigger_for(booked, _booking(BookingStatus.CANCELLED)) == "S15"
    assert trigger_for(booked, _booking(BookingStatus.ENTERED_IN_ERROR)) == "S17"
    assert trigger_for(booked, _booking(BookingStatus.NOSHOW)) == "S26"
    assert trigger_for(booked, _booking(minutes_later=30)) == "S13"
    changed = booked.model_copy(update={"description": "another reason"})
    assert trigger_for(booked, changed) == "S14"
    assert trigger_for(_booking(BookingStatus.CANCELLED), booked) == "S14"  # reinstated


def test_the_control_id_is_stable_per_version_and_fits_msh_10() -> None:
    """MSH-10 is derived from appointment and version: a resend repeats it, 20 characters."""
    first = control_id("appt-1", 2)
    assert first == control_id("appt-1", 2) != control_id("appt-1", 3)
    assert len(first) == 20


async def test_schema_8_database_gains_origins_and_outbox(tmp_path: Path) -> None:
    """A schema 8 database opens at the current schema with its appointments; only supplier-side
    versions of bookings with an HL7 origin become outbox entries, in order."""
    path = tmp_path / "v8.db"
    old = make_version("old", 1)
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statements in MIGRATIONS[:8]:
            for statement in statements:
                raw.execute(statement)
        raw.execute("INSERT INTO schema_version VALUES (8)")
        raw.execute(INSERT_VERSION, tuple(version_params(old)))
    raw.close()
    assert SCHEMA_VERSION >= 9
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.get("old") == old
        await store.record_hl7_origin(Hl7Origin("old", "CAS-APP", "CAS-NORTH", "PL-1", T0))
        await store.record_hl7_origin(Hl7Origin("old", "OTHER", "OTHER", "PL-2", T0))
        origin = await store.hl7_origin("old")
        assert origin is not None and origin.placer_id == "PL-1"  # the first record stands
        await store.add_version(make_version("old", 2))  # the consumer's own change
        await store.add_version(make_version("old", 3), supplier_side=True)
        await store.add_version(make_version("old", 4), supplier_side=True)
        await store.add_version(make_version("other", 1), supplier_side=True)  # no origin
        later = T0 + timedelta(days=1)
        work = await store.lease_hl7_notice("w", later, 30)
        assert work is not None and (work.appointment_id, work.version) == ("old", 3)
        assert await store.lease_hl7_notice("w", later, 30) is None  # v4 waits for v3
        await store.finish_hl7_notice(work, later, NoticeOutcome.REFUSED, "AR:207")
        nxt = await store.lease_hl7_notice("w", later, 30)
        assert nxt is not None and nxt.version == 4
        await store.retry_hl7_notice(nxt, later + timedelta(seconds=5), "transport_Unreachable")
        assert await store.lease_hl7_notice("w", later, 30) is None  # not due yet
        again = await store.lease_hl7_notice("w", later + timedelta(seconds=6), 30)
        assert again is not None and again.attempts == 2
        states = [(n.version, n.state) for n in await store.hl7_notices("old")]
        assert states == [(3, "refused"), (4, "pending")]
        assert await store.hl7_notices("other") == []
    finally:
        await store.close()


def test_a_notify_endpoint_is_validated() -> None:
    """A notify endpoint needs a real port; one sending facility may be listed once."""
    base = {"port": 0, "mappings": "tables"}
    consumer = {"sending_facility": "CAS", "ods_code": "A1"}
    with pytest.raises(ValidationError, match="port"):
        Hl7FrontDoorSettings.model_validate(
            {**base, "consumers": [{**consumer, "notify": {"host": "h", "port": 0}}]}
        )
    with pytest.raises(ValidationError, match="listed twice"):
        Hl7FrontDoorSettings.model_validate({**base, "consumers": [consumer, consumer]})
    ok = Hl7FrontDoorSettings.model_validate(
        {**base, "consumers": [{**consumer, "notify": {"host": "h", "port": 2576}}]}
    )
    assert ok.consumers[0].notify is not None and ok.consumers[0].notify.timeout_s == 5.0


def test_check_config_reports_an_unloadable_notify_tls_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config` names the consumer whose notify TLS CA file is missing."""
    import shutil

    from gateway.cli import main

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "config", tmp_path / "config")
    shutil.copytree(root / "mappings", tmp_path / "mappings")
    config = tmp_path / "config/example-hl7-front-door.yaml"
    text = config.read_text()
    marker = "ods_code: "
    at = text.index(marker)
    line_end = text.index("\n", at)
    indent = " " * (at - text.rfind("\n", 0, at) - 1)
    notify = (
        f"\n{indent}notify: {{host: 127.0.0.1, port: 2576,"
        " tls: {enabled: true, ca_file: missing-ca.pem}}"
    )
    config.write_text(text[:line_end] + notify + text[line_end:])
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "notify TLS" in err and "missing-ca.pem" in err
