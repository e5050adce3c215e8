"""Message ids a log line or an audit row may hold as sent, else a hash of them.

MSH-10 (control id) and MSH-3/MSH-4 (sender) come from the sender and are not
checked against any table, so a hostile or broken sender can put anything in
them, a patient's NHS number included. They are kept as sent only when shaped
like a machine id (1-40 letters, digits, ``.``, ``_``, ``-``, ``|``) holding no
ten digits that pass the NHS number check; anything else is replaced by a
SHA-256 prefix, which still lets support match a message the sender quotes.
"""

from __future__ import annotations

import hashlib
import re

from adapters.nhs import is_valid_nhs_number

_ID = re.compile(r"[A-Za-z0-9._|-]{1,40}")
_DIGIT_RUN = re.compile(r"\d{10,}")


def fingerprint(value: str) -> str:
    """``sha256:`` and the first 16 hex digits of the SHA-256 of ``value`` (UTF-8)."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _holds_nhs_number(value: str) -> bool:
    return any(
        is_valid_nhs_number(run[i : i + 10])
        for run in _DIGIT_RUN.findall(value)
        for i in range(len(run) - 9)
    )


def loggable_id(value: str) -> str:
    """``value`` if it is a plain machine id with no NHS number in it, else its fingerprint."""
    if not value:
        return value
    if _ID.fullmatch(value) and not _holds_nhs_number(value):
        return value
    return fingerprint(value)
