"""hl7apy as the gate for inbound unsolicited messages (structure per declared version).

Our own ER7 reader is lenient by design; before an unsolicited message from a
PAS changes anything, hl7apy must accept it as an ER7 message of the version
its MSH-12 declares, with segments it knows. That is cheap enough for
notifications (tens of ms) and far too slow for the slot-search hot path.
"""

from __future__ import annotations

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

_KNOWN_VERSIONS = (
    "2.1",
    "2.2",
    "2.3",
    "2.3.1",
    "2.4",
    "2.5",
    "2.5.1",
    "2.6",
    "2.7",
    "2.8",
    "2.8.1",
    "2.8.2",
)


def structure_problem(text: str) -> str | None:
    """Why hl7apy refuses ``text`` (CR-separated ER7), or None if it accepts it."""
    version = text.split("\r", 1)[0].split(text[3] if len(text) > 3 else "|")
    declared = version[11] if len(version) > 11 else ""
    if declared.split("^")[0] not in _KNOWN_VERSIONS:
        return f"HL7 version '{declared[:10]}' is not one hl7apy knows"
    try:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
    except (HL7apyException, ValueError, KeyError, IndexError, AttributeError) as exc:
        return f"hl7apy could not parse it ({type(exc).__name__})"
    names = {child.name for child in message.children}
    if "MSH" not in names:
        return "hl7apy found no MSH segment"
    return None
