"""MLLP framing (HL7 v2.5 Appendix C, "Minimal Lower Layer Protocol", release 2).

A frame is ``<VT> message <FS><CR>`` (0x0B ... 0x1C 0x0D). Framing and parsing
are separate layers (python-hl7): this module only finds frames in a byte
stream, however TCP cut or glued them, and refuses frames over a size limit.
Bytes outside a frame are discarded and counted, so a peer that writes noise
cannot wedge the reader. A listener may ask ``read_frames`` to refuse a read
that brought only noise (``refuse_noise``): text such as an HTTP request sent
to the MLLP port then ends the connection (``UnreadableFrame``) instead of
leaving it open with nothing ever answered.
"""

from __future__ import annotations

import asyncio
import hashlib

START = b"\x0b"
END = b"\x1c\x0d"
DEFAULT_MAX_FRAME = 1_048_576


class FrameTooLarge(ValueError):
    """A frame grew past the configured maximum before its end block arrived."""


class UnreadableFrame(ValueError):
    """Bytes with no MSH to answer: the listener logs their size and hash, and hangs up.

    An ACK must name the message it answers (MSA-2 is its MSH-10, HL7 v2.5 chapter
    2.9.2); with none readable, closing the connection is the only clear answer.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(f"{len(data)} bytes with no readable MSH")
        self.size = len(data)
        #: Enough of a SHA-256 to match the bytes against a sender's log; never the content.
        self.digest = hashlib.sha256(data).hexdigest()[:16]


#: Bytes a sender may leave between frames without being taken for noise.
_BLANK = b" \t\r\n\x00"


def frame(payload: bytes) -> bytes:
    """``payload`` wrapped in the MLLP start and end blocks."""
    return START + payload + END


class FrameDecoder:
    """Incremental decoder: feed it any chunks, get back whole frames in order."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self.discarded = 0
        self._buffer = bytearray()
        self._in_frame = False

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by ``data``; raises ``FrameTooLarge`` past the limit."""
        self._buffer += data
        frames: list[bytes] = []
        while True:
            if not self._in_frame:
                start = self._buffer.find(START)
                if start < 0:
                    self.discarded += len(self._buffer)
                    self._buffer.clear()
                    return frames
                self.discarded += start
                del self._buffer[: start + 1]
                self._in_frame = True
            end = self._buffer.find(END)
            if end < 0:
                if len(self._buffer) > self.max_frame:
                    raise FrameTooLarge(f"frame exceeds {self.max_frame} bytes")
                return frames
            if end > self.max_frame:
                raise FrameTooLarge(f"frame exceeds {self.max_frame} bytes")
            body = bytes(self._buffer[:end])
            del self._buffer[: end + len(END)]
            self._in_frame = False
            # A start block inside a frame means the sender restarted: keep the newest.
            restart = body.rfind(START)
            if restart >= 0:
                self.discarded += restart + 1
                body = body[restart + 1 :]
            frames.append(body)

    @property
    def in_frame(self) -> bool:
        """A start block was read and its frame is not complete yet."""
        return self._in_frame

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buffer)


async def read_frames(
    reader: asyncio.StreamReader,
    decoder: FrameDecoder,
    chunk: int = 65_536,
    *,
    refuse_noise: bool = False,
) -> list[bytes]:
    """The next frames from ``reader`` (at least one), or [] at end of stream.

    With ``refuse_noise``, a read that completes no frame, opens none and
    brought more than blank bytes raises ``UnreadableFrame``.
    """
    while True:
        data = await reader.read(chunk)
        if not data:
            return []
        frames = decoder.feed(data)
        if frames:
            return frames
        if refuse_noise and not decoder.in_frame and data.strip(_BLANK):
            raise UnreadableFrame(data)
