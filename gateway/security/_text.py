"""Safe echoing of consumer-supplied values in diagnostics and headers."""

from __future__ import annotations

import re

# RFC 6750 section 3: error_description may hold only %x20-21 / %x23-5B / %x5D-7E.
_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def header_safe(text: str) -> str:
    """``text`` with every character RFC 6750 forbids in a quoted value replaced."""
    return _UNSAFE.sub("?", text.replace('"', "'").replace("\\", "/"))


def shown(value: object, limit: int = 64) -> str:
    """A consumer value, quoted, made printable and cut short, for a diagnostic.

    Only non-patient values (audiences, scopes, algorithms, ASIDs) are ever
    passed here; the cut keeps a hostile value from flooding logs.
    """
    text = header_safe(str(value))
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"'{text}'"
