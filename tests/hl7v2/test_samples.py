"""Every SIU sample in ../shared/samples/hl7v2-siu (HL7 v2.8, written by others) maps or is
rejected with a clear reason; the test prints which are which."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.domain import BookingStatus, Gender
from adapters.hl7v2._siu import Rejected, read_change, to_booking
from adapters.hl7v2.mapping import load_mappings
from tests.hl7v2.helpers import SAMPLES
from tests.samples import absent

GHH = Path(__file__).resolve().parent / "data" / "ghh"
LONDON = ZoneInfo("Europe/London")

#: file -> booking status it maps to, or the start of the reason it is rejected for
EXPECTED: dict[str, BookingStatus | str] = {
    "SIU-S12-01.hl7": BookingStatus.BOOKED,
    "SIU-S12-02.hl7": BookingStatus.BOOKED,
    "SIU-S12_1.hl7": BookingStatus.BOOKED,
    "SIU-S13-01.hl7": BookingStatus.BOOKED,
    "SIU-S13-02.hl7": BookingStatus.BOOKED,
    "SIU-S14-01.hl7": BookingStatus.BOOKED,
    "SIU-S14-02.hl7": BookingStatus.BOOKED,
    "SIU-S15-01.hl7": BookingStatus.CANCELLED,
    "SIU-S15-02.hl7": BookingStatus.CANCELLED,
    "SIU-S16-01.hl7": "SIU^S16 is not supported",
    "SIU-S16-02.hl7": "SIU^S16 is not supported",
    "SIU-S17-01.hl7": BookingStatus.ENTERED_IN_ERROR,
    "SIU-S17-02.hl7": BookingStatus.ENTERED_IN_ERROR,
    "SIU-S26-01.hl7": BookingStatus.NOSHOW,
    "SIU-S26-02.hl7": BookingStatus.NOSHOW,
    "SIU_12.hl7": "ADT^A60 is not an SIU message",
}


def _samples() -> list[Path]:
    return sorted(SAMPLES.glob("*.hl7")) if SAMPLES.is_dir() else []


def _outcome(path: Path) -> BookingStatus | str:
    mappings = load_mappings(GHH)
    try:
        change = read_change(path.read_text(encoding="utf-8"), mappings, LONDON)
    except Rejected as exc:
        return exc.reason
    booking = to_booking(change, "ghh", mappings, None, datetime.now(UTC))
    assert booking.patient.gender is Gender.MALE and booking.patient.name.family == "EVERYMAN"
    assert booking.patient.local_identifier is not None
    assert booking.start < booking.end and booking.supplier_ref == "36996"
    return booking.status


@pytest.mark.skipif(not _samples(), reason=absent(SAMPLES))
def test_every_sample_maps_or_is_rejected_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    """Each sample file gives its expected status or rejection reason; the report is printed."""
    report = {path.name: _outcome(path) for path in _samples()}
    with capsys.disabled():
        print("\nshared SIU samples:")
        for name, outcome in report.items():
            verdict = (
                f"maps to {outcome.value}"
                if isinstance(outcome, BookingStatus)
                else (f"rejected: {outcome}")
            )
            print(f"  {name:<16} {verdict}")
    assert set(report) >= set(EXPECTED), "a sample named in EXPECTED is missing"
    for name, outcome in report.items():
        expected = EXPECTED.get(name)
        if isinstance(expected, BookingStatus):
            assert outcome == expected, name
        else:
            assert isinstance(outcome, str) and expected and outcome.startswith(expected), name


@pytest.mark.skipif(not _samples(), reason=absent(SAMPLES))
def test_sample_times_with_offsets_become_utc() -> None:
    """TQ1-7 '20210924093000+0215' of SIU-S12-01 is 07:15 UTC."""
    change = read_change(
        (SAMPLES / "SIU-S12-01.hl7").read_text(encoding="utf-8"), load_mappings(GHH), LONDON
    )
    assert change.record.start == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)
    assert change.record.end == datetime(2021, 9, 24, 8, 5, tzinfo=UTC)
