"""SQL parameters whose repr hides their values.

aiosqlite logs each queued call, arguments included, at DEBUG; a booking's
parameters hold the patient, which must never reach a log (STYLE.md).
"""

from __future__ import annotations


class Redacted(tuple[str | float | int | None, ...]):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} redacted parameters>"
