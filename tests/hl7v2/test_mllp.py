"""MLLP framing: frames cut at awkward places, glued together, noisy or too large."""

from __future__ import annotations

import pytest

from adapters.hl7_toolkit.mllp import FrameDecoder, FrameTooLarge, frame

MESSAGES = [b"MSH|^~\\&|A|B|C|D|20260101||ACK^S12^ACK|1|P|2.5\rMSA|AA|X\r", b"MSH|second\r"]


def test_every_split_point_yields_the_same_frames() -> None:
    """A stream cut into two chunks at any byte gives the same two frames in order."""
    stream = b"".join(frame(m) for m in MESSAGES)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert got == MESSAGES, cut


def test_byte_by_byte_and_concatenated_frames() -> None:
    """One byte at a time, and several frames in one chunk, both decode in order."""
    stream = b"".join(frame(m) for m in MESSAGES * 3)
    decoder = FrameDecoder()
    one_by_one = [f for i in range(len(stream)) for f in decoder.feed(stream[i : i + 1])]
    assert one_by_one == MESSAGES * 3
    assert FrameDecoder().feed(stream) == MESSAGES * 3


def test_noise_between_frames_is_discarded_and_counted() -> None:
    """Bytes outside frames are dropped (and counted); a restarted frame keeps the newest."""
    decoder = FrameDecoder()
    got = decoder.feed(
        b"garbage" + frame(MESSAGES[0]) + b"\r\n" + b"\x0bhalf\x0b" + MESSAGES[1] + b"\x1c\x0d"
    )
    assert got == MESSAGES
    assert decoder.discarded == len(b"garbage") + 2 + len(b"\x0bhalf")


def test_a_frame_over_the_limit_is_refused_before_its_end_arrives() -> None:
    """A frame growing past max_frame raises FrameTooLarge without waiting for FS CR."""
    decoder = FrameDecoder(max_frame=16)
    assert decoder.feed(b"\x0b" + b"x" * 16) == []
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"x")
    with pytest.raises(FrameTooLarge):
        FrameDecoder(max_frame=4).feed(frame(b"123456"))


def test_a_frame_at_the_limit_is_accepted() -> None:
    """Exactly max_frame bytes of payload is still a frame."""
    assert FrameDecoder(max_frame=6).feed(frame(b"123456")) == [b"123456"]
