"""HL7 v2 value types used by this dialect: DTM/TS instants and stable short ids.

DTM (chapter 2A.22): ``YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]``. A
time with an offset is exact; a local time without one is read in the
supplier's zone (default Europe/London), so daylight saving is handled by
zoneinfo. A wall-clock time that does not exist (clocks went forward) is an
error; one that happens twice (clocks went back) is read as the first.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

_DTM = re.compile(
    r"^(?P<y>\d{4})(?P<mo>\d{2})?(?P<d>\d{2})?(?P<h>\d{2})?(?P<mi>\d{2})?(?P<s>\d{2})?"
    r"(?:\.(?P<f>\d{1,4}))?(?P<z>[+-]\d{4})?$"
)

#: MSH-10 is ST 20 in v2.5 (chapter 2.14.9.10); base32 of SHA-256 keeps 100 bits in 20.
CONTROL_ID_LENGTH = 20


def short_id(seed: str, length: int = CONTROL_ID_LENGTH) -> str:
    """A stable id of ``length`` base32 characters derived from ``seed``."""
    digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest()
    return base64.b32encode(digest).decode("ascii")[:length]


def format_instant(instant: datetime, zone: ZoneInfo, with_offset: bool = True) -> str:
    """``instant`` as local wall-clock DTM to the second, with its offset unless told not."""
    local = instant.astimezone(zone)
    text = local.strftime("%Y%m%d%H%M%S")
    return text + local.strftime("%z") if with_offset else text


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a DTM; ValueError if malformed or a skipped local time."""
    match = _DTM.match(text.strip())
    if not match or match["h"] is None:
        raise ValueError(f"'{text}' is not an HL7 date/time to at least the hour")
    fraction = match["f"] or "0"
    wall = datetime(
        int(match["y"]),
        int(match["mo"] or 1),
        int(match["d"] or 1),
        int(match["h"]),
        int(match["mi"] or 0),
        int(match["s"] or 0),
        int(fraction.ljust(6, "0")[:6]),
    )
    offset = match["z"]
    if offset:
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        return wall.replace(tzinfo=timezone(sign * delta)).astimezone(UTC)
    local = wall.replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        raise ValueError(f"'{text}' does not exist in {zone.key} (the clocks went forward)")
    return instant


def parse_date(text: str) -> date:
    """The calendar date of a DT/DTM (a birth date: no zone conversion)."""
    match = _DTM.match(text.strip())
    if not match or match["mo"] is None or match["d"] is None:
        raise ValueError(f"'{text}' is not an HL7 date")
    return date(int(match["y"]), int(match["mo"]), int(match["d"]))


def format_date(value: date) -> str:
    return value.strftime("%Y%m%d")
