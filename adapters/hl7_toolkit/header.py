"""MSH headers and acknowledgements (HL7 v2.5 chapter 2.14: MSH, MSA, ERR; 2.9 ACK).

Original acknowledgement mode (chapter 2.9.2): every message is answered by
one whose MSA-2 repeats its MSH-10, which is how answers are correlated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.hl7_toolkit.er7 import DEFAULT, Message, Raw, Segment, comp, segment
from adapters.hl7_toolkit.values import format_instant

#: Table 0008 acknowledgement codes.
ACCEPT, ERROR, REJECT = "AA", "AE", "AR"
CHARSET = "UNICODE UTF-8"


@dataclass(frozen=True, slots=True)
class Header:
    """Who sends to whom, in which HL7 version (MSH-3..6, MSH-11, MSH-12)."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    version: str = "2.5"
    processing_id: str = "P"
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))

    def reply(self) -> Header:
        """The header of an answer: sender and receiver swapped."""
        return Header(
            self.receiving_application,
            self.receiving_facility,
            self.sending_application,
            self.sending_facility,
            self.version,
            self.processing_id,
            self.zone,
        )


def msh(
    header: Header, code: str, trigger: str, structure: str, control_id: str, now: datetime
) -> Segment:
    """MSH for a message of type ``code^trigger^structure`` (chapter 2.14.9)."""
    return segment(
        "MSH",
        None,
        None,
        header.sending_application,
        header.sending_facility,
        header.receiving_application,
        header.receiving_facility,
        format_instant(now, header.zone),
        None,
        comp(code, trigger, structure),
        control_id,
        header.processing_id,
        header.version,
        None,
        None,
        None,
        None,
        None,
        CHARSET,
    )


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One ERR segment: table 0357 code, the application's own code, and text."""

    hl7_code: str
    application_code: str = ""
    text: str = ""


def err(detail: ErrorDetail, severity: str = "E") -> Segment:
    """ERR-3 (table 0357), ERR-4 severity, ERR-5 application code, ERR-8 user message."""
    return segment(
        "ERR",
        None,
        None,
        comp(detail.hl7_code, _HL7_ERROR_TEXT.get(detail.hl7_code, ""), "HL70357"),
        severity,
        comp(detail.application_code, detail.text, "L") if detail.application_code else None,
        None,
        None,
        detail.text or None,
    )


_HL7_ERROR_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


def ack(
    header: Header,
    trigger: str,
    answered: str,
    control_id: str,
    now: datetime,
    code: str = ACCEPT,
    error: ErrorDetail | None = None,
) -> Message:
    """A general ``ACK^trigger^ACK`` answering message ``answered`` (chapter 2.14.1)."""
    segments = [
        msh(header, "ACK", trigger, "ACK", control_id, now),
        msa(code, answered, error.text if error else ""),
    ]
    if error is not None:
        segments.append(err(error))
    return Message(tuple(segments))


def batch_envelope(
    header: Header, kind: str, answered: str, control_id: str, now: datetime, count: int
) -> tuple[Segment, Segment]:
    """FHS/FTS or BHS/BTS around an acknowledgement batch (chapter 2.10.3, 2.15.2-2.15.5).

    FHS-11/BHS-11 is our own control id, FHS-12/BHS-12 the one of the file or
    batch answered; FTS-1/BTS-1 counts the batches or messages inside.
    """
    head = segment(
        f"{kind}HS",
        Raw(DEFAULT.encoding_characters),
        header.sending_application,
        header.sending_facility,
        header.receiving_application,
        header.receiving_facility,
        format_instant(now, header.zone),
        None,
        None,
        None,
        control_id,
        answered or None,
    )
    return head, segment(f"{kind}TS", str(count))


def msa(code: str, answered: str, text: str = "") -> Segment:
    return segment("MSA", code, answered, text or None)


@dataclass(frozen=True, slots=True)
class Ack:
    """MSA and ERR of an answer, as read."""

    code: str
    answered: str
    text: str
    errors: tuple[ErrorDetail, ...]

    @property
    def accepted(self) -> bool:
        return self.code in (ACCEPT, "CA")


def read_ack(message: Message) -> Ack:
    """MSA-1, MSA-2, MSA-3 and every ERR; ValueError if there is no MSA."""
    segment_msa = message.first("MSA")
    if segment_msa is None or not segment_msa.get(1):
        raise ValueError("the answer has no MSA segment")
    details = tuple(
        ErrorDetail(s.get(3, 1), s.get(5, 1), s.get(8) or s.get(5, 2) or s.get(3, 2))
        for s in message.all("ERR")
    )
    return Ack(segment_msa.get(1), segment_msa.get(2), segment_msa.get(3), details)
