"""Rows of ``schedules.csv`` the PAS refuses, kept out of searches and reported.

A PAS answers a slot query naming a schedule code it does not know by
refusing the whole query (``errors.csv`` maps it to ``ServiceNotFound``), so
one bad row would make every search of its service fail. The adapter then
asks code by code, serves the codes that answer, and records the refused
rows here: each is logged once (``mapping_row_unusable``: file, line, codes,
no patient data), left out of later searches, tried again after
``RETRY_S`` in case the PAS has learnt it, and named by ``health``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from adapters.hl7v2._mapping_values import ScheduleMap

log = structlog.get_logger(__name__)
RETRY_S = 300.0


@dataclass(frozen=True, slots=True)
class Unusable:
    row: ScheduleMap
    reason: str
    since: float


class ScheduleRows:
    def __init__(self, log_name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._log_name, self._clock = log_name, clock
        self._unusable: dict[str, Unusable] = {}

    def usable(self, codes: Iterable[str]) -> tuple[str, ...]:
        """``codes`` without those refused less than ``RETRY_S`` ago."""
        now = self._clock()
        return tuple(
            c for c in codes if c not in self._unusable or now - self._unusable[c].since > RETRY_S
        )

    def refused(self, row: ScheduleMap, reason: str) -> None:
        known = self._unusable.get(row.pas_schedule)
        self._unusable[row.pas_schedule] = Unusable(row, reason, self._clock())
        if known is None:
            log.warning(
                "mapping_row_unusable",
                adapter=self._log_name,
                table="schedules.csv",
                line=row.line,
                pas_schedule=row.pas_schedule,
                schedule_id=row.schedule.id,
                service_id=row.schedule.service_id,
                reason=reason,
            )

    def answered(self, codes: Iterable[str]) -> None:
        """The PAS served ``codes``: any of them refused before is usable again."""
        for code in codes:
            if self._unusable.pop(code, None) is not None:
                log.info("mapping_row_usable_again", adapter=self._log_name, pas_schedule=code)

    def report(self) -> str:
        """One line naming every unusable row, or "" if there is none."""
        rows = sorted(self._unusable.values(), key=lambda u: u.row.line)
        return "; ".join(
            f"schedules.csv line {u.row.line} ({u.row.pas_schedule}, schedule "
            f"{u.row.schedule.id}) unusable: {u.reason}"
            for u in rows
        )
