"""Real-world SIU shapes over real MLLP: batches, character sets, bare PID-3, start + duration."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.domain import BookingStatus
from adapters.hl7_toolkit import scheduling as sched
from adapters.hl7_toolkit.er7 import parse
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.peer import DeskPatient, PasPeer
from adapters.hl7v2.peer.diary import CANCELLED
from tests.contract.builders import call_context
from tests.hl7v2.helpers import acks_of, adapter_over, desk_siu, exchange_frame, siu_text

LONDON = ZoneInfo("Europe/London")
PATIENT = DeskPatient("Lefèvre", "Zoë", "F", date(1980, 1, 2), nhs_number="9434765919")
OTHER = DeskPatient("Okafor", "Chidi", "M", date(1975, 5, 6), nhs_number="9434765870")


def _address(adapter: Hl7v2Adapter) -> tuple[str, int]:
    assert adapter.listen_address is not None
    return adapter.listen_address


async def test_a_batch_file_is_applied_whole_and_answered_as_a_batch(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """FHS/BHS around two SIU: both applied, one ACK batch back naming the batch answered."""
    first = await desk_siu(peer, hl7, PATIENT)
    second = await desk_siu(peer, hl7, OTHER)
    body = siu_text(peer, "S12", first, "B-1") + siu_text(peer, "S12", second, "B-2")
    frame = (
        "FHS|^~\\&|PAS|PAS-FACILITY|||20260101120000||||FILE7\r"
        "BHS|^~\\&|PAS|PAS-FACILITY|||20260101120000||||BATCH42\r"
        f"{body}BTS|2\rFTS|1\r"
    )
    answer = (await exchange_frame(_address(hl7), frame.encode())).decode()
    assert acks_of(answer.encode()) == [("AA", "B-1", ""), ("AA", "B-2", "")]
    names = [line.split("|")[0] for line in answer.split("\r") if line]
    assert names == ["FHS", "BHS", "MSH", "MSA", "MSH", "MSA", "BTS", "FTS"]
    lines = {line.split("|")[0]: line.split("|") for line in answer.split("\r") if line}
    assert lines["BHS"][11] == "BATCH42" and lines["FHS"][11] == "FILE7"
    assert lines["BTS"][1] == "2" and lines["FTS"][1] == "1"
    for item in (first, second):
        booking = await hl7.get(item.filler_id, call_context())
        assert booking.status is BookingStatus.BOOKED


async def test_several_messages_in_one_frame_are_each_applied_and_answered_in_order(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """A bare run of MSH in one frame: each message applied, one ACK each, in order, one frame."""
    item = await desk_siu(peer, hl7, PATIENT)
    booked = siu_text(peer, "S12", item, "RUN-1")
    refused = booked.replace("|RUN-1|", "|RUN-2|").replace(f"|{item.schedule}^^L|", "|NOSUCH^^L|")
    cancelled = siu_text(peer, "S15", replace(item, status=CANCELLED), "RUN-3")
    answer = await exchange_frame(_address(hl7), (booked + refused + cancelled).encode())
    assert acks_of(answer) == [("AA", "RUN-1", ""), ("AE", "RUN-2", "103"), ("AA", "RUN-3", "")]
    assert (await hl7.get(item.filler_id, call_context())).status is BookingStatus.CANCELLED


def _latin1(text: str, charset: str) -> bytes:
    """``text`` with MSH-18 set to ``charset`` (empty leaves it out), encoded as ISO-8859-1."""
    return text.replace("|UNICODE UTF-8", f"|{charset}", 1).encode("iso8859-1")


async def test_an_iso_8859_1_message_is_read_by_its_msh_18(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """MSH-18 8859/1: the message is ACKed AA and the patient's accented name is read right."""
    item = await desk_siu(peer, hl7, PATIENT)
    payload = _latin1(siu_text(peer, "S12", item, "L1-1"), "8859/1")
    assert acks_of(await exchange_frame(_address(hl7), payload)) == [("AA", "L1-1", "")]
    booking = await hl7.get(item.filler_id, call_context())
    assert (booking.patient.name.family, booking.patient.name.given) == ("Lefèvre", ("Zoë",))


async def test_undecodable_text_is_answered_ar_never_silence(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """Latin-1 declared or defaulted as UTF-8, or an unknown MSH-18: AR with ERR, nothing done."""
    item = await desk_siu(peer, hl7, PATIENT)
    text = siu_text(peer, "S12", item, "U8-1")
    for charset, code in (("UNICODE UTF-8", "102"), ("", "102"), ("EBCDIC-XYZ", "103")):
        payload = _latin1(text, charset)
        assert acks_of(await exchange_frame(_address(hl7), payload)) == [("AR", "U8-1", code)]
    with pytest.raises(Exception, match="no booking"):
        await hl7.get(item.filler_id, call_context())


async def test_the_supplier_default_encoding_reads_a_message_without_msh_18(
    peer: PasPeer, tmp_path: Path
) -> None:
    """With ``default_encoding: 8859/1`` a Latin-1 message with empty MSH-18 is read and applied."""
    async with adapter_over(peer, tmp_path, default_encoding="8859/1") as adapter:
        item = await desk_siu(peer, adapter, PATIENT)
        payload = _latin1(siu_text(peer, "S12", item, "D1-1"), "")
        assert acks_of(await exchange_frame(_address(adapter), payload)) == [("AA", "D1-1", "")]
        booking = await adapter.get(item.filler_id, call_context())
        assert booking.patient.name.family == "Lefèvre"


async def test_pid_3_without_authority_uses_the_supplier_default(
    peer: PasPeer, tmp_path: Path
) -> None:
    """A bare PID-3 id maps by the configured default authority/type; without them it is AE 103."""
    options = {"default_assigning_authority": "NHS", "default_identifier_type": "NH"}
    async with adapter_over(peer, tmp_path / "plain") as plain:
        item = await desk_siu(peer, plain, PATIENT)
        text = siu_text(peer, "S12", item, "P3-1").replace("|9434765919^^^NHS^NH|", "|9434765919|")
        assert acks_of(await exchange_frame(_address(plain), text.encode())) == [
            ("AE", "P3-1", "103")
        ]
    async with adapter_over(peer, tmp_path / "defaulted", **options) as adapter:
        assert acks_of(await exchange_frame(_address(adapter), text.encode())) == [
            ("AA", "P3-1", "")
        ]
        booking = await adapter.get(item.filler_id, call_context())
        assert booking.patient.nhs_number == "9434765919"


async def test_start_and_duration_without_an_end_are_booked_with_the_end_computed(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """An SIU without TQ1-8 whose SCH-9/SCH-10 say 10 minutes ends 10 minutes after its start."""
    item = await desk_siu(peer, hl7, PATIENT)
    text = siu_text(peer, "S12", item, "DU-1")
    tq1 = next(line for line in text.split("\r") if line.startswith("TQ1|"))
    assert acks_of(await exchange_frame(_address(hl7), text.replace(tq1, tq1[:-20]).encode())) == [
        ("AA", "DU-1", "")
    ]
    booking = await hl7.get(item.filler_id, call_context())
    assert booking.end - booking.start == timedelta(minutes=10) and booking.start == item.start


def _sch(**fields: str) -> str:
    """An SCH segment with the given fields (``f9="20"`` is SCH-9), filler id 2."""
    values = {1: "1", 2: "2"} | {int(k[1:]): v for k, v in fields.items()}
    return "SCH|" + "|".join(values.get(n, "") for n in range(1, max(values) + 1)) + "\r"


AT = "202607011000"  # 10:00 London summer time: 09:00 UTC


@pytest.mark.parametrize(
    ("timing", "minutes"),
    [
        (_sch() + f"TQ1|1||||||{AT}||||||45^min&Minutes&ANS+\r", 45),
        (_sch(f11=f"^^M30^{AT}"), 30),
        (_sch(f11=f"^^H1^{AT}"), 60),
        (_sch(f11=f"^^^{AT}") + "RGS|1\rAIS|1||X||||90|s\r", 1.5),
        (_sch(f9="20", f10="MIN") + f"TQ1|1||||||{AT}\r", 20),
        (_sch(f9="2", f10="h") + f"TQ1|1||||||{AT}\r", 120),
        (_sch(f9="25") + f"TQ1|1||||||{AT}\r", 25),
        (_sch() + f"RGS|1\rAIS|1||X|{AT}|||15|min\r", 15),
    ],
)
def test_every_duration_form_gives_the_end(timing: str, minutes: float) -> None:
    """TQ1-13, SCH-11.3 (v2.3 TQ), AIS-7/8 and SCH-9/10 (minutes by default) end the appointment."""
    (group,) = sched.groups(parse("MSH|^~\\&|PAS\r" + timing))
    booked = sched.read_group(group, LONDON)
    assert booked.start == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert booked.end - booked.start == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("timing", "reason"),
    [
        (_sch() + f"TQ1|1||||||{AT}\r", "no end time"),
        (_sch(f11=f"^^INDEF^{AT}"), "SCH-11.3 duration 'INDEF'"),
        (_sch(f9="10", f10="fortnights") + f"TQ1|1||||||{AT}\r", "SCH-9 duration unit"),
    ],
)
def test_a_missing_or_unreadable_duration_is_refused_with_its_field(
    timing: str, reason: str
) -> None:
    """No end and no usable duration is an error naming the field (the SIU is ACKed AE 102)."""
    (group,) = sched.groups(parse("MSH|^~\\&|PAS\r" + timing))
    with pytest.raises(ValueError, match=reason):
        sched.read_group(group, LONDON)
