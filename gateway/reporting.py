"""Booking metrics of fs_reporting.md, computed from the audit trail.

Every slot search, booking attempt (and how it ended) and cancellation is an
audit entry carrying its service, consumer organisation, outcome code and the
number of slots offered, whichever door it came through. The metrics below are
what those facts support; the ones that need facts the gateway never sees
(referrals made, DoS ranking, breach windows) are listed as not derivable
rather than guessed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.store import AuditEntry

#: A booking cancelled within this time of being made counts as cancelled
#: "before the end of the encounter" (rep-cons-07).
ENCOUNTER = timedelta(minutes=60)

NOT_DERIVABLE = {
    "rep-cons-05": "needs the consumer's DoS ranking, which never reaches the gateway",
    "rep-cons-08": "re-bookings are reported as a booking plus a cancellation",
    "rep-cons-10": "needs disposition breach windows",
    "rep-cons-11": "needs disposition breach windows",
    "rep-cons-12": "needs disposition breach windows",
    "rep-prov-02": "needs the number of referrals received",
    "rep-prov-04": "needs the number of referrals received",
}


@dataclass
class Report:
    start: datetime
    end: datetime
    #: metric id -> group (service id or error code) -> count
    metrics: dict[str, dict[str, int]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)


def _by_service(entries: Iterable[AuditEntry]) -> dict[str, int]:
    return dict(Counter(e.service_id or "unknown" for e in entries))


def _booked(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    return [e for e in entries if e.interaction == "book" and e.status == 201]


def _searches_without_booking(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Searches that offered slots with no booking by the same organisation and
    service within the encounter window after it (rep-cons-03)."""
    bookings: defaultdict[tuple[str | None, str | None], list[datetime]] = defaultdict(list)
    for e in _booked(entries):
        bookings[(e.organisation_ods, e.service_id)].append(e.at)
    return [
        e
        for e in entries
        if e.interaction == "slot_search"
        and e.status == 200
        and (e.slot_count or 0) > 0
        and not any(
            e.at <= t <= e.at + ENCOUNTER for t in bookings[(e.organisation_ods, e.service_id)]
        )
    ]


def _cancelled_in_encounter(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    booked_at = {e.appointment_id: e.at for e in _booked(entries)}
    return [
        e
        for e in entries
        if e.interaction == "cancel"
        and e.status == 200
        and e.appointment_id in booked_at
        and e.at - booked_at[e.appointment_id] <= ENCOUNTER
    ]


def build(entries: Sequence[AuditEntry], start: datetime, end: datetime) -> Report:
    attempts = [e for e in entries if e.interaction == "book"]
    cancels = [e for e in entries if e.interaction == "cancel" and e.status == 200]
    searches = [e for e in entries if e.interaction == "slot_search" and e.status == 200]
    report = Report(start, end)
    rows = {
        "rep-cons-01": ("appointments booked, by service", _by_service(_booked(entries))),
        "rep-cons-02": (
            "slot searches that offered no slots, by service",
            _by_service(e for e in searches if e.slot_count == 0),
        ),
        "rep-cons-03": (
            "searches that offered slots but led to no booking within the encounter, by service",
            _by_service(_searches_without_booking(entries)),
        ),
        "rep-cons-04": (
            "bookings that failed because the slot was no longer free, by service",
            _by_service(e for e in attempts if e.outcome == "SLOT_NOT_FREE"),
        ),
        "rep-cons-06": (
            "booking attempts that ended in an error, by error code",
            dict(Counter(e.outcome or str(e.status) for e in attempts if e.status >= 400)),
        ),
        "rep-cons-07": (
            "appointments cancelled within the encounter they were booked in, by service",
            _by_service(_cancelled_in_encounter(entries)),
        ),
        "rep-cons-09": ("appointments cancelled, by service", _by_service(cancels)),
        "rep-prov-01": ("appointments booked", {"all": len(_booked(entries))}),
        "rep-prov-03": (
            "slots offered by searches, by service",
            {
                k: sum(e.slot_count or 0 for e in searches if (e.service_id or "unknown") == k)
                for k in _by_service(searches)
            },
        ),
        "rep-prov-05": ("appointments cancelled", {"all": len(cancels)}),
    }
    for key, (description, counts) in rows.items():
        report.descriptions[key] = description
        report.metrics[key] = counts
    return report


def render_text(report: Report) -> str:
    lines = [f"UEC booking metrics {report.start.isoformat()} to {report.end.isoformat()}"]
    for key, description in report.descriptions.items():
        counts = report.metrics[key]
        detail = ", ".join(f"{group}: {n}" for group, n in sorted(counts.items())) or "none"
        lines.append(f"{key}  {description}: {detail}")
    for key, why in NOT_DERIVABLE.items():
        lines.append(f"{key}  not derivable: {why}")
    return "\n".join(lines)
