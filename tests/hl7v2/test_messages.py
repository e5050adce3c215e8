"""The ER7 codec, DTM times in the supplier's zone, and our messages as hl7apy sees them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.er7 import Er7Error, Message, comp, escape, parse, segment, unescape
from adapters.hl7_toolkit.header import ErrorDetail, Header, ack, msh, read_ack
from adapters.hl7_toolkit.values import (
    CONTROL_ID_LENGTH,
    format_instant,
    parse_date,
    parse_instant,
    short_id,
)

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)


def test_escape_round_trips_every_delimiter_and_line_break() -> None:
    """Data holding | ^ ~ \\ & CR LF survives escape then unescape (chapter 2.7)."""
    text = "a|b^c~d\\e&f\rg\nh"
    escaped = escape(text)
    assert not any(ch in escaped for ch in "|^~&\r\n")
    assert unescape(escaped) == text
    assert unescape(r"x\.br\y\Zunknown\z") == "x\ny\\Zunknown\\z"


def test_values_are_escaped_once_in_segments_and_read_back() -> None:
    """A segment built from raw data reads back the same data at the same position."""
    seg = segment("NTE", "1", None, "Pain | 3^rd day & worse")
    message = parse("MSH|^~\\&|A\r" + "|".join(seg.fields))
    nte = message.first("NTE")
    assert nte is not None and nte.get(3) == "Pain | 3^rd day & worse"


def test_components_repetitions_and_msh_positions() -> None:
    """MSH-1/MSH-2 are the delimiters; components and repetitions are addressed 1-based."""
    message = parse(
        "MSH|^~\\&|APP|FAC|||20260101||SIU^S12^SIU_S12|C1|P|2.5\n"
        "PID|1||111^^^NHS^NH~222^^^X&1.2&ISO^MR||Smith^Ann\n"
    )
    assert message.msh.get(1) == "|" and message.msh.get(2) == "^~\\&"
    assert message.message_type == ("SIU", "S12", "SIU_S12") and message.control_id == "C1"
    pid = message.first("PID")
    assert pid is not None
    assert pid.get(3, 1, rep=2) == "222" and pid.get(3, 4, 1, rep=2) == "X"
    assert pid.get(5, 2) == "Ann" and pid.get(40) == ""


def test_text_that_is_not_er7_is_refused() -> None:
    """No MSH, bad delimiters or a malformed segment name raise Er7Error."""
    for text in ("", "PID|1", "MSH", "MSHA^~\\&|", "MSH|^~\\&|x\r1AB|y"):
        with pytest.raises(Er7Error):
            parse(text)


def test_control_ids_fit_msh10_and_are_stable() -> None:
    """short_id is 20 base32 characters (MSH-10 is ST 20 in v2.5) and depends only on its seed."""
    first = short_id("S01|4a1e0c9e-8d9c-4b53-9a55-0d3d7d6b8f11|0")
    assert len(first) == CONTROL_ID_LENGTH and first.isalnum() and first.isupper()
    assert first == short_id("S01|4a1e0c9e-8d9c-4b53-9a55-0d3d7d6b8f11|0")
    assert first != short_id("S01|4a1e0c9e-8d9c-4b53-9a55-0d3d7d6b8f11|1")


def test_local_times_without_offset_are_read_in_the_supplier_zone() -> None:
    """Naive DTMs are Europe/London wall time: BST in summer, GMT in winter."""
    assert parse_instant("202607011030", LONDON) == datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert parse_instant("20261201103000", LONDON) == datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    assert parse_instant("20260701103000+0215", LONDON) == datetime(2026, 7, 1, 8, 15, tzinfo=UTC)
    assert parse_instant("20260701103000.25-0100", LONDON) == datetime(
        2026, 7, 1, 11, 30, 0, 250000, tzinfo=UTC
    )


def test_daylight_saving_gaps_and_repeats() -> None:
    """A skipped local time is refused; a repeated one is its first (BST) occurrence."""
    with pytest.raises(ValueError, match="clocks went forward"):
        parse_instant("202603290130", LONDON)
    assert parse_instant("202610250130", LONDON) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_instant("2026", LONDON)


def test_instants_are_sent_as_local_time_with_offset() -> None:
    """Outbound DTMs are the supplier's wall clock with its offset, to the second."""
    assert format_instant(NOW, LONDON) == "20260701103000+0100"
    assert format_instant(NOW + timedelta(days=180), LONDON) == "20261228093000+0000"
    assert parse_date("198808181126+0215") == date(1988, 8, 18)


def _header() -> Header:
    return Header("UEC-GATEWAY", "GATEWAY", "PAS", "PAS", "2.5", zone=LONDON)


def _conformant(message: Message) -> None:
    parsed = parse_message(
        message.to_er7(), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True
    )
    parsed.validate()


def test_every_message_we_write_is_valid_v25_for_hl7apy() -> None:
    """SQM, SRM S01/S04, SQR, SRR, SIU and ACK pass hl7apy's strict v2.5 validation."""
    h = _header()
    pid = segment(
        "PID",
        "1",
        None,
        comp("9434765919", None, None, "NHS", "NH"),
        None,
        comp("Smith", "Ann"),
        None,
        "19700101",
        "F",
    )
    booked = sched.Booked(
        "UTCNP",
        NOW,
        NOW + timedelta(minutes=10),
        "Booked",
        "P1",
        "F1",
        "UTC-MAIN",
        "F2F",
        "desc",
        (sched.Staff("N1", "Ok", "Ada", "", "NP"),),
        pid,
    )
    request = sched.ArqRequest(
        "P1", schedule="UTCNP", start=NOW, end=booked.end, description="d", requester="A1", pid=pid
    )
    messages = [
        sched.slot_query(
            msh(h, "SQM", "S25", "SQM_S25", "C1", NOW),
            sched.SlotQuery(("UTCNP",), NOW, NOW, ("Open",), "Q1"),
            NOW,
            LONDON,
        ),
        sched.appointment_query(
            msh(h, "SQM", "S25", "SQM_S25", "C2", NOW), "Q2", "P1", "", NOW, LONDON
        ),
        sched.booking_request(msh(h, "SRM", "S01", "SRM_S01", "C3", NOW), request, LONDON),
        sched.cancel_request(
            msh(h, "SRM", "S04", "SRM_S01", "C4", NOW),
            sched.ArqRequest("P1", "F1", schedule="UTCNP"),
            LONDON,
        ),
        Message(
            (
                msh(h, "SQR", "S25", "SQR_S25", "C5", NOW),
                segment("MSA", "AA", "C1"),
                segment("QAK", "Q1", "OK"),
                *sched.sch_group(booked, LONDON),
            )
        ),
        Message(
            (
                msh(h, "SRR", "S01", "SRR_S01", "C6", NOW),
                segment("MSA", "AA", "C3"),
                *sched.sch_group(booked, LONDON),
            )
        ),
        Message((msh(h, "SIU", "S15", "SIU_S12", "C7", NOW), *sched.sch_group(booked, LONDON))),
        ack(h, "S12", "C7", "C8", NOW, "AE", ErrorDetail("207", "SLOT_TAKEN", "taken")),
    ]
    for message in messages:
        _conformant(message)


def test_an_sch_group_reads_back_as_written() -> None:
    """sch_group then read_group gives back the same appointment (times in UTC)."""
    booked = sched.Booked(
        "UTCNP",
        NOW,
        NOW + timedelta(minutes=10),
        "Booked",
        "P1",
        "F1",
        "UTC-MAIN",
        "F2F",
        "Chest pain | since 3am",
        (sched.Staff("N1", "Okafor", "Ada", "Dr", "NP"),),
    )
    message = Message(
        (msh(_header(), "SIU", "S12", "SIU_S12", "C", NOW), *sched.sch_group(booked, LONDON))
    )
    (group,) = sched.groups(parse(message.to_er7()))
    assert sched.read_group(group, LONDON) == booked


def test_acks_carry_msa2_and_err_codes() -> None:
    """read_ack finds MSA-1, MSA-2 and ERR-3/ERR-5 of an answer."""
    answer = ack(_header(), "S01", "ABC", "D", NOW, "AE", ErrorDetail("207", "SLOT_TAKEN", "taken"))
    read = read_ack(parse(answer.to_er7()))
    assert (read.code, read.answered, read.accepted) == ("AE", "ABC", False)
    assert read.errors[0].hl7_code == "207" and read.errors[0].application_code == "SLOT_TAKEN"
    with pytest.raises(ValueError):
        read_ack(parse("MSH|^~\\&|A\r"))
