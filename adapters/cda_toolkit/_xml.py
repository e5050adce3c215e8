"""Namespaces, CDA data types (TS, II, text) and the problem collector the reader shares.

Every reading step records what is missing or unknown as a ``CdaProblem`` naming the
XPath (``/ClinicalDocument/...``, local names, no prefixes) instead of raising, so one
reading reports every refusal reason at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from lxml import etree

HL7 = "urn:hl7-org:v3"
NPFIT = "NPFIT:HL7:Localisation"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"h": HL7, "n": NPFIT}
#: A time with no offset is read in England's civil time: the 111 service is England's.
LONDON = ZoneInfo("Europe/London")
_TS = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?(?:\.\d+)?)?(?:([+-])(\d{2})(\d{2})?)?$"
)


def q(name: str) -> str:
    """Clark notation for an element of the HL7 v3 namespace."""
    return f"{{{HL7}}}{name}"


@dataclass(frozen=True, slots=True)
class CdaProblem:
    """Why a document is refused: the XPath of the part and what is wrong with it."""

    xpath: str
    message: str

    def __str__(self) -> str:
        return f"{self.xpath}: {self.message}"


@dataclass(slots=True)
class Collector:
    """Problems (refusals) and notes (content read but not used) found while reading."""

    problems: list[CdaProblem] = field(default_factory=list)
    notes: list[CdaProblem] = field(default_factory=list)

    def problem(self, xpath: str, message: str) -> None:
        self.problems.append(CdaProblem(xpath, message))

    def note(self, xpath: str, message: str) -> None:
        self.notes.append(CdaProblem(xpath, message))


def child(parent: etree._Element | None, path: str) -> etree._Element | None:
    """The first element at ``path`` (``h:``/``n:`` prefixed) under ``parent``."""
    if parent is None:
        return None
    found = parent.find(path, NS)
    return found


def children(parent: etree._Element | None, path: str) -> list[etree._Element]:
    return [] if parent is None else list(parent.findall(path, NS))


def attr(element: etree._Element | None, name: str) -> str | None:
    """A non-blank attribute, stripped; None when absent or blank."""
    if element is None:
        return None
    value = element.get(name)
    return value.strip() if value and value.strip() else None


def text_of(element: etree._Element | None) -> str | None:
    """An element's own text, stripped; None when absent or blank."""
    if element is None or not isinstance(element.text, str):
        return None
    return element.text.strip() or None


def instant(value: str | None) -> datetime | None:
    """An HL7 v3 TS (``YYYYMMDD[HHMM[SS[.f]]][+HH[MM]]``) as a UTC instant, or None.

    Senders write ``+01`` as well as ``+0100``; a time with no offset is England's civil
    time (docs/spec-choices.md, "NHS 111 CDA reading and rendering").
    """
    match = _TS.match(value or "")
    if match is None:
        return None
    y, mo, d, hh, mm, ss, sign, oh, om = match.groups()
    try:
        local = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        if sign is None:
            return local.replace(tzinfo=LONDON).astimezone(UTC)
        offset = timedelta(hours=int(oh), minutes=int(om or 0))
        zone = timezone(offset if sign == "+" else -offset)
        return local.replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None


def day(value: str | None) -> date | None:
    """The calendar date of a TS (a birth time): its first eight digits."""
    match = _TS.match(value or "")
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def ts(value: datetime) -> str:
    """A UTC instant as an HL7 v3 TS with an explicit offset."""
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


_BLOCKS = frozenset({"br", "paragraph", "tr", "list", "item", "table", "tbody", "thead"})


def narrative(element: etree._Element | None) -> str | None:
    """A section's ``text`` as plain lines: ``<br/>``, paragraphs and rows break lines.

    Each line is stripped and its inner whitespace collapsed; blank lines are dropped,
    so reading what ``render`` wrote gives the same text back.
    """
    if element is None:
        return None
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        if isinstance(node.text, str):
            parts.append(node.text)
        for kid in node:
            if isinstance(kid.tag, str):
                name = etree.QName(kid).localname
                if name in _BLOCKS:
                    parts.append("\n")
                walk(kid)
                if name in ("td", "th"):
                    parts.append(" ")
                elif name in _BLOCKS:
                    parts.append("\n")
            if isinstance(kid.tail, str):
                parts.append(kid.tail)

    walk(element)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line) or None
