"""One inbound MLLP frame cut into messages, before any of them is decoded.

A frame may hold one message, a bare run of messages (several MSH), or an HL7
batch (HL7 v2.5 chapter 2.10.3: ``[FHS] {[BHS] {MSH ...} [BTS]} [FTS]``).
The cut is made on bytes, because each message names its own character set
in MSH-18 (chapter 2.14.9.18) and the delimiters and segment names are ASCII
in every set this listener reads (``charsets``). The MSH fields the
listener needs before decoding (MSH-3/4 sender, MSH-9, MSH-10, MSH-18) are
ASCII-only in practice and are read as Latin-1, which cannot fail.

``heading`` is how much of an MSH can be read whatever follows it; the HL7 v2
adapter's SIU listener and the HL7 v2 front door both use it, so a message
whose body is unreadable (bytes that do not decode, a segment with no valid
name) is still answered ``AR`` by both, naming the MSH-10 it answers (HL7 v2.5 chapter 2.9.2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")


@dataclass(slots=True)
class Batch:
    """One batch of a frame: its BHS (None for a bare run of MSH) and its messages."""

    header: bytes | None = None
    messages: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class Parcel:
    """Everything one frame held: FHS (if any) and its batches, in order."""

    file_header: bytes | None = None
    batches: list[Batch] = field(default_factory=list)

    @property
    def wrapped(self) -> bool:
        return self.file_header is not None or any(b.header is not None for b in self.batches)

    @property
    def messages(self) -> list[bytes]:
        return [m for b in self.batches for m in b.messages]


def split(payload: bytes) -> Parcel:
    """The frame's envelope and messages (each message's segments joined by CR).

    Segments outside any message (stray lines before the first MSH) are not
    part of a message and are left out; BTS/FTS close what they close.
    """
    parcel = Parcel()
    batch: Batch | None = None
    message: list[bytes] = []
    for line in payload.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r"):
        line = line.strip(b"\x00")
        if not line.strip():
            continue
        name = line[:3]
        if name in _ENVELOPE or name == b"MSH":
            _close(batch, message)
            message = []
        if name == b"FHS":
            parcel.file_header = parcel.file_header or line
        elif name == b"BHS":
            batch = Batch(header=line)
            parcel.batches.append(batch)
        elif name in (b"BTS", b"FTS"):
            batch = None
        elif name == b"MSH":
            if batch is None:
                batch = Batch()
                parcel.batches.append(batch)
            message = [line]
        elif message:
            message.append(line)
    _close(batch, message)
    return parcel


def _close(batch: Batch | None, message: list[bytes]) -> None:
    if batch is not None and message:
        batch.messages.append(b"\r".join(message) + b"\r")


@dataclass(frozen=True, slots=True)
class Heading:
    """What the listener reads of an MSH before decoding the message."""

    sender: str
    control_id: str
    code: str
    trigger: str
    charset: str
    content_hash: str
    #: MSH-3.1, MSH-4.1 and MSH-12.1, for an answer's header (as sent, Latin-1 read).
    application: str = ""
    facility: str = ""
    version: str = ""


def heading(message: bytes) -> Heading | None:
    """MSH-3+4, MSH-10, MSH-9.1/9.2, MSH-12 and MSH-18.1 of ``message``, or None if MSH is
    unusable (no MSH first, no five distinct delimiters, or no MSH-10 to answer).

    The content hash covers every byte of the message except MSH-7 (the time
    of sending), which some engines rewrite when they resend the same message.
    """
    # A frame from a front-door consumer may still end its segments with LF (er7.parse).
    cut = min((i for i in (message.find(b"\r"), message.find(b"\n")) if i >= 0), default=-1)
    first, rest = (message, b"") if cut < 0 else (message[:cut], message[cut + 1 :])
    if len(first) < 8 or not first.startswith(b"MSH"):
        return None
    sep, encoding = first[3:4], first[4:8]
    if sep.isalnum() or len(set(sep + encoding)) != 5:
        return None
    component, repetition = encoding[0:1], encoding[1:2]
    fields = first.split(sep)  # fields[n - 1] is MSH-n (MSH-1 is the separator itself)

    def value(number: int) -> bytes:
        return fields[number - 1] if len(fields) >= number else b""

    def first_component(number: int) -> str:
        return value(number).split(component)[0].decode("latin-1").strip()

    control = first_component(10)
    if not control:
        return None
    kind = value(9).split(component)
    hashed = [*fields[:6], b"", *fields[7:]] if len(fields) > 6 else fields
    digest = hashlib.sha256(sep.join(hashed) + b"\r" + rest).hexdigest()
    return Heading(
        sender=(value(3) + b"|" + value(4)).decode("latin-1"),
        control_id=control,
        code=kind[0].decode("latin-1"),
        trigger=kind[1].decode("latin-1") if len(kind) > 1 else "",
        charset=value(18).split(repetition)[0].split(component)[0].decode("latin-1").strip(),
        content_hash=digest,
        application=first_component(3),
        facility=first_component(4),
        version=first_component(12),
    )


def envelope_field(line: bytes, number: int) -> str:
    """Field ``number`` of an FHS/BHS line (numbered like MSH: field 1 is the separator)."""
    if len(line) < 4:
        return ""
    fields = line.split(line[3:4])
    return fields[number - 1].decode("latin-1") if len(fields) >= number else ""
