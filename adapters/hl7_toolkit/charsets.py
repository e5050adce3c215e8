"""MSH-18 character sets (HL7 v2.5 chapter 2.14.9.18, table 0211) as Python codecs.

Only character sets in which the ER7 delimiters and segment names are single
ASCII bytes are read (ASCII, ISO 8859 parts, UTF-8), because a frame is cut
into segments and messages before each message is decoded by its own MSH-18.
A supplier whose PAS leaves MSH-18 empty names its real encoding in the
adapter's ``default_encoding`` option (an HL7 name or a Python codec name).
"""

from __future__ import annotations

import codecs

#: Table 0211 values (and the DICOM-style ``ISO IR`` aliases some engines send).
_HL7_NAMES = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "ISO IR100": "iso8859-1",
    "ISO IR101": "iso8859-2",
    "ISO IR109": "iso8859-3",
    "ISO IR110": "iso8859-4",
    "ISO IR144": "iso8859-5",
    "ISO IR127": "iso8859-6",
    "ISO IR126": "iso8859-7",
    "ISO IR138": "iso8859-8",
    "ISO IR148": "iso8859-9",
    "ISO IR192": "utf-8",
    "UNICODE UTF-8": "utf-8",
    **{f"8859/{part}": f"iso8859-{part}" for part in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
}


class UnknownCharset(LookupError):
    """An MSH-18 value (or option) this listener cannot read."""


def codec_for(name: str) -> str:
    """The Python codec for an MSH-18 value or codec name; ``UnknownCharset`` if none fits."""
    key = " ".join(name.strip().upper().split())
    found = _HL7_NAMES.get(key)
    if found is not None:
        return found
    try:
        info = codecs.lookup(name.strip())
    except LookupError:
        raise UnknownCharset(f"character set '{name[:30]}' is not supported") from None
    if "|".encode(info.name) != b"|" or "MSH\r".encode(info.name) != b"MSH\r":
        raise UnknownCharset(f"character set '{name[:30]}' is not ASCII-compatible")
    return info.name
