"""A small, fast ER7 (pipe-and-hat) codec: HL7 v2.5 chapter 2.5-2.7.

hl7apy builds a full object tree and takes ~135 ms to read a 50-slot
``SQR^S25`` on the development machine; this reader splits on the delimiters
named in MSH-1/MSH-2 and unescapes only the values asked for, so the hot path
stays cheap. hl7apy stays the reference: every message this package writes is
checked against hl7apy's v2.5 structures in ``tests/hl7v2/test_messages.py``,
and inbound unsolicited messages are gated by it (``messages.gate``).

Positions are HL7's 1-based ones: ``seg.get(3, comp=1)`` is SEG-3.1, and for
MSH, field 1 is the field separator itself (chapter 2.14.9.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

SEGMENT_END = "\r"
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")


class Er7Error(ValueError):
    """The text is not an ER7-encoded HL7 v2 message."""


@dataclass(frozen=True, slots=True)
class Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent


DEFAULT = Delimiters()


def escape(text: str, d: Delimiters = DEFAULT) -> str:
    """``text`` with delimiters and line breaks escaped (chapter 2.7.4 and 2.7.5)."""
    if not any(
        ch in text
        for ch in (d.field, d.component, d.repetition, d.escape, d.subcomponent, "\r", "\n")
    ):
        return text
    e = d.escape
    table = {
        d.escape: f"{e}E{e}",
        d.field: f"{e}F{e}",
        d.component: f"{e}S{e}",
        d.subcomponent: f"{e}T{e}",
        d.repetition: f"{e}R{e}",
        "\r": f"{e}X0D{e}",
        "\n": f"{e}X0A{e}",
    }
    return "".join(table.get(ch, ch) for ch in text)


def unescape(text: str, d: Delimiters = DEFAULT) -> str:
    """The data value of an escaped ER7 string; unknown sequences are kept verbatim."""
    e = d.escape
    if e not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        end = text.find(e, i + 1) if ch == e else -1
        if end < 0:
            out.append(ch)
            i += 1
            continue
        out.append(_escape_sequence(text[i + 1 : end], d, text[i : end + 1]))
        i = end + 1
    return "".join(out)


def _escape_sequence(code: str, d: Delimiters, verbatim: str) -> str:
    simple = {
        "F": d.field,
        "S": d.component,
        "T": d.subcomponent,
        "R": d.repetition,
        "E": d.escape,
        ".br": "\n",
    }
    if code in simple:
        return simple[code]
    if code.startswith("X") and len(code) > 1 and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode("utf-8")
        except ValueError:
            return verbatim
    return verbatim  # highlighting (\H\ \N\) and character sets are left as sent


class Raw(str):
    """A value already in ER7 form (composed of escaped parts); never escaped again."""

    __slots__ = ()


def comp(*parts: str | None, d: Delimiters = DEFAULT) -> Raw:
    """Components joined by ``^`` (each escaped unless ``Raw``), trailing empties dropped."""
    return _join(parts, d.component, d)


def sub(*parts: str | None, d: Delimiters = DEFAULT) -> Raw:
    """Subcomponents joined by ``&``."""
    return _join(parts, d.subcomponent, d)


def reps(values: Iterable[str | None], d: Delimiters = DEFAULT) -> Raw:
    """Repetitions joined by ``~``."""
    return _join(tuple(values), d.repetition, d)


def _join(parts: Sequence[str | None], sep: str, d: Delimiters) -> Raw:
    texts = [p if isinstance(p, Raw) else escape(p or "", d) for p in parts]
    while texts and not texts[-1]:
        texts.pop()
    return Raw(sep.join(texts))


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment; ``fields[n]`` is field n in HL7 numbering (fields[0] is the name)."""

    fields: tuple[str, ...]
    delimiters: Delimiters = DEFAULT

    @property
    def name(self) -> str:
        return self.fields[0]

    def raw(self, number: int) -> str:
        return self.fields[number] if 0 <= number < len(self.fields) else ""

    def repetitions(self, number: int) -> list[str]:
        raw = self.raw(number)
        if not raw:
            return []
        if self.name == "MSH" and number in (1, 2):
            return [raw]
        return raw.split(self.delimiters.repetition)

    def get(self, number: int, comp: int = 1, sub: int = 1, rep: int = 1) -> str:
        """The unescaped value at SEG-number[rep].comp.sub, or "" if absent."""
        if self.name == "MSH" and number in (1, 2):
            return self.raw(number)
        values = self.repetitions(number)
        if len(values) < rep:
            return ""
        return part(values[rep - 1], comp, sub, self.delimiters)


def part(value: str, comp: int = 1, sub: int = 1, d: Delimiters = DEFAULT) -> str:
    """Component ``comp``, subcomponent ``sub`` of one repetition, unescaped."""
    components = value.split(d.component)
    if len(components) < comp:
        return ""
    subs = components[comp - 1].split(d.subcomponent)
    if len(subs) < sub:
        return ""
    return unescape(subs[sub - 1], d)


@dataclass(frozen=True, slots=True)
class Message:
    segments: tuple[Segment, ...]

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    @property
    def delimiters(self) -> Delimiters:
        return self.msh.delimiters

    @property
    def control_id(self) -> str:
        return self.msh.get(10)

    @property
    def version(self) -> str:
        return self.msh.get(12)

    @property
    def message_type(self) -> tuple[str, str, str]:
        """MSH-9 as (message code, trigger event, structure), e.g. ("SIU", "S12", "SIU_S12")."""
        return (self.msh.get(9, 1), self.msh.get(9, 2), self.msh.get(9, 3))

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def to_er7(self) -> str:
        return SEGMENT_END.join(_segment_text(s) for s in self.segments) + SEGMENT_END


def _segment_text(segment: Segment) -> str:
    d = segment.delimiters
    if segment.name == "MSH":
        return "MSH" + d.field + d.field.join(segment.fields[2:])
    return d.field.join(segment.fields)


def parse(text: str) -> Message:
    """Split ER7 ``text`` into segments; raises ``Er7Error`` if it is not HL7 v2.

    Segment terminators are CR by the standard; LF and CRLF are accepted too,
    because files written by hand (like the shared samples) use them.
    """
    if not text.startswith("MSH") or len(text) < 8:
        raise Er7Error("a message must start with an MSH segment")
    field_sep = text[3]
    encoding = text[4:8]
    if field_sep.isalnum() or len(set(field_sep + encoding)) != 5:
        raise Er7Error("MSH-1/MSH-2 do not define five distinct delimiters")
    d = Delimiters(field_sep, encoding[0], encoding[1], encoding[2], encoding[3])
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    segments: list[Segment] = []
    for line in lines:
        line = line.strip("\x00")
        if not line.strip():
            continue
        parts = line.split(field_sep)
        if not _SEGMENT_NAME.match(parts[0]):
            raise Er7Error(f"segment {len(segments) + 1} has no valid segment name")
        if parts[0] == "MSH":
            parts = ["MSH", field_sep, *parts[1:]]
        segments.append(Segment(tuple(parts), d))
    if not segments or segments[0].name != "MSH":
        raise Er7Error("a message must start with an MSH segment")
    return Message(tuple(segments))


def decode(payload: bytes) -> Message:
    """A frame's bytes as a message (UTF-8, the only MSH-18 this dialect uses)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Er7Error("the frame is not UTF-8 text") from exc
    return parse(text)


def segment(name: str, *values: str | None, d: Delimiters = DEFAULT) -> Segment:
    """A segment from field values 1..n; plain strings are escaped, ``Raw`` kept."""
    fields = [p if isinstance(p, Raw) else escape(p or "", d) for p in values]
    while fields and not fields[-1]:
        fields.pop()
    if name == "MSH":
        return Segment(("MSH", d.field, d.encoding_characters, *fields[2:]), d)
    return Segment((name, *fields), d)
