"""Fuzzing HL7 v2 over real MLLP: mutated real SIU samples and our own SQM/SRM messages.

Each example is a seed (``../shared/samples/hl7v2-siu/*``, or a search, booking or cancel
built by ``tests/hl7_front_door/legacy.py``) with a few mutations: bytes flipped, inserted,
removed; a field set to a hostile value (an NHS number, 5,000 characters, broken escapes,
invalid UTF-8); a segment renamed; line endings changed; messages doubled; truncation;
noise in front. It is sent, framed, to the HL7 front door and to the SIU listener of the
HL7 v2 adapter. Invariants: an answer within the budget whose every MSA is AA, or AE/AR
with an ERR; or the connection closed with a logged ``*unreadable*`` line; never silence
with the connection left open; no unhandled error; no patient identifier of any seed in a
log line or audit row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from adapters.domain import utcnow
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.er7 import Er7Error, parse
from adapters.hl7_toolkit.frames import heading
from adapters.hl7_toolkit.mllp import frame
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.peer.server import PasPeer
from tests.hl7_front_door.conftest import Door, Start, start_door  # noqa: F401 (fixture)
from tests.hl7_front_door.legacy import NHS_NUMBER, Offer, pid
from tests.hl7v2.helpers import SAMPLES, adapter_over, answer_or_close
from tests.samples import absent

#: Longer than either door's time budget (the door's is set to 2 s below).
WAIT_S = 6.0
HOSTILE = (
    NHS_NUMBER,
    "943 476 5919",
    "A" * 5000,
    "\\X00\\",
    "\\Xzz\\",
    "\\",
    "^~\\&",
    "&&&^^^~~~",
    "\x00",
    "\x7f\x01",
    "😀" * 3,
    "9" * 60,
    "2.9",
    "-1",
    "20261399256161",
    "",
)
#: A field value as raw bytes: one that is not UTF-8 as well as text.
RAW_VALUES = st.one_of(
    st.sampled_from(HOSTILE).map(lambda v: v.encode("utf-8")),
    st.binary(max_size=12),
    st.just(b"\xff\xfe"),
)
SEGMENT_NAMES = (b"9434765918", b"ZZ", b"msh", b"MSH", b"", b"\xff\xff\xff", b"PID1", b"FHS")


class Seeds(list[bytes]):
    """The seed messages; shown by count only when hypothesis reports a failing example."""

    def __repr__(self) -> str:
        return f"<{len(self)} seed messages>"


def _seeds_from_samples() -> Seeds:
    if not SAMPLES.is_dir():
        pytest.skip(absent(SAMPLES))
    return Seeds(path.read_bytes() for path in sorted(SAMPLES.glob("*.hl7")))


def _identifiers(seeds: list[bytes]) -> set[str]:
    """Patient identifiers the seeds carry (PID-3 ids, PID-5 names, PID-7 birth dates)."""
    found = {NHS_NUMBER, "Smith", "19800101"}
    for seed in seeds:
        try:
            message = parse(seed.decode("utf-8", errors="replace"))
        except Er7Error:
            continue
        for segment in message.all("PID"):
            for rep in range(1, 4):
                found.add(segment.get(3, 1, rep=rep))
                found.update(segment.get(5, comp, rep=rep) for comp in (1, 2))
            found.add(segment.get(7)[:8])
    return {value for value in found if len(value) >= 4}


def _lines(data: bytes) -> list[bytes]:
    return re.split(rb"\r\n|\r|\n", data)


@st.composite
def _mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """One mutation of ``data``, chosen from the kinds a broken sender makes."""
    kind = draw(st.sampled_from(("flip", "insert", "delete", "field", "rename", "shape")))
    size = max(len(data), 1)
    at = draw(st.integers(0, size - 1))
    if kind == "flip":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if kind == "insert":
        return data[:at] + draw(RAW_VALUES) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 40)) :]
    lines = _lines(data)
    row = draw(st.integers(0, len(lines) - 1))
    if kind == "field":
        fields = lines[row].split(b"|")
        column = draw(st.integers(1, max(len(fields) - 1, 1)))
        fields += [b""] * (column + 1 - len(fields))
        fields[column] = draw(RAW_VALUES)
        lines[row] = b"|".join(fields)
        return b"\r".join(lines)
    if kind == "rename":
        name = draw(st.sampled_from(SEGMENT_NAMES))
        lines[row] = name + lines[row][3:]
        return b"\r".join(lines)
    shape = draw(st.sampled_from(("lf", "double", "truncate", "noise", "empty", "blank")))
    return {
        "lf": b"\n".join(lines),
        "double": data + b"\r" + data,
        "truncate": data[:at],
        "noise": b"GET / HTTP/1.1\r\n" + data,
        "empty": b"",
        "blank": b"\r\r\r",
    }[shape]


@st.composite
def _mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 3))):
        data = draw(_mutation(data))
    return data


def _check_answer(answer: bytes) -> None:
    """Every MSA is AA, or AE/AR followed by its ERR (HL7 v2.5 chapter 2.9.2)."""
    segments = [line.split(b"|") for line in _lines(answer) if line]
    codes = [(i, s[1] if len(s) > 1 else b"") for i, s in enumerate(segments) if s[0] == b"MSA"]
    assert codes, f"an answer without MSA: {answer[:200]!r}"
    for index, code in codes:
        assert code in (b"AA", b"AE", b"AR"), code
        if code != b"AA":
            following = [s[0] for s in segments[index + 1 : index + 3]]
            assert b"ERR" in following, f"{code!r} without ERR: {answer[:300]!r}"


def _unhandled(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def _probe(
    address: tuple[str, int],
    payload: bytes,
    unreadable_event: str,
    secrets: set[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Send one framed payload and check every invariant on what came back and was logged."""
    caplog.clear()
    with capture_logs() as logs:
        answer = await answer_or_close(address, frame(payload), wait_s=WAIT_S)
    if answer is None:
        assert any(e["event"] == unreadable_event for e in logs) or any(
            e["event"].endswith("_refused") for e in logs
        ), f"closed without a log line: {payload[:120]!r}"
    else:
        _check_answer(answer)
    assert not _unhandled(caplog), _unhandled(caplog)
    text = repr(logs) + caplog.text
    leaked = [value for value in secrets if value in text]
    assert not leaked, f"patient identifiers in logs: {leaked}"


def _is_ack(payload: bytes) -> bool:
    """An ACK needs no answer (original mode), so silence is right for it."""
    head = heading(payload.replace(b"\n", b"\r").split(b"\x1c\x0d")[0])
    return head is not None and head.code.strip() == "ACK"


# -- the front door -------------------------------------------------------------------------


@pytest.fixture
async def fuzz_door(start_door: Start) -> Door:  # noqa: F811 (the imported fixture)
    """A gateway with its HL7 front door, a 2 s time budget."""
    return await start_door(budget_s=2.0)


@pytest.fixture
async def door_seeds(fuzz_door: Door) -> Seeds:
    """A search, a booking of a real slot, a cancel, a booking for a made-up time, the SIUs."""
    legacy, zone = fuzz_door.legacy, fuzz_door.legacy.header.zone
    (offer,) = await legacy.offers(1)
    later = utcnow() + timedelta(days=2)
    made_up = Offer(offer.schedule, later, later + timedelta(minutes=10))
    query = scheduling.SlotQuery(("UTC-DEMO",), None, None, ("Open",), "Q1", 50)
    head = legacy.msh("SQM", "S25", "SQM_S25", legacy.control_id())
    cancel = scheduling.cancel_request(
        legacy.msh("SRM", "S04", "SRM_S01", legacy.control_id()),
        scheduling.ArqRequest(placer_id="", filler_id="no-such-appointment"),
        zone,
    )
    messages = [
        scheduling.slot_query(head, query, utcnow(), zone),
        legacy.booking(offer, patient=pid()),
        cancel,
        legacy.booking(made_up),
    ]
    return Seeds([*(m.to_er7().encode() for m in messages), *_seeds_from_samples()])


@given(data=st.data())
async def test_the_front_door_answers_or_closes_every_mutated_message(
    fuzz_door: Door,
    door_seeds: Seeds,
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    """Mutated SQM/SRM and SIU samples at the front door: ACK with ERR or a logged close."""
    payload = data.draw(_mutated(door_seeds))
    if _is_ack(payload):
        return
    secrets = _identifiers(door_seeds)
    caplog.set_level(logging.WARNING)
    await _probe(fuzz_door.hl7_address, payload, "hl7_frame_unreadable", secrets, caplog)
    await fuzz_door.flush_audit()
    rows = repr(await fuzz_door.service.store.audit_entries(limit=50))
    assert not [value for value in secrets if value in rows], "patient identifiers in audit"


# -- the SIU listener of the HL7 v2 adapter -------------------------------------------------


@pytest_asyncio.fixture
async def listener(tmp_path: Path) -> AsyncIterator[Hl7v2Adapter]:
    """The HL7 v2 adapter over a reference PAS on 127.0.0.1, its SIU listener open."""
    pas = await PasPeer.start(str(tmp_path / "pas.sqlite3"), horizon_days=1)
    try:
        async with adapter_over(pas, tmp_path) as adapter:
            yield adapter
    finally:
        await pas.close()


@given(data=st.data())
async def test_the_siu_listener_answers_or_closes_every_mutated_message(
    listener: Hl7v2Adapter, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    """Mutated SIU samples at the adapter's SIU listener: ACK with ERR or a logged close."""
    seeds = _seeds_from_samples()
    payload = data.draw(_mutated(seeds))
    if _is_ack(payload):
        return
    address = listener.listen_address
    assert address is not None
    caplog.set_level(logging.WARNING)
    await _probe(address, payload, "unreadable_frame_dropped", _identifiers(seeds), caplog)
