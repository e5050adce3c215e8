"""Cross-border tables of ``uec-gateway report``, for financial reconciliation.

Bookings, cancellations and DNAs (did not attend) by region pair (consumer region →
provider region) and by accountable commissioner, the cross-border ones marked. They
are counted from the audit trail: only entries that carry a policy decision
(``cross_border`` not None: the service has a policy), and only calls that succeeded,
by the status each door answers on success. A resend answered from the ledger (STU3
and BaRS 409 ``duplicate``, HL7 v2 208 "replayed") is not a second booking, and an
appointment is counted once per kind however many entries name it.

A DNA is a supplier-side change making the appointment ``noshow`` (a new version,
``Store.noshows_between``); it is counted where that appointment's booking entry puts
it, whenever the booking was made. A DNA of a booking with no policy decision is not
in these tables. Moving a booking to another slot (BaRS PATCH) is neither a new
booking nor a cancellation; the HL7 v2 rebook (S03) books anew and cancels the old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.store import AppointmentVersion, AuditEntry, Store

#: interaction -> the status it answers on success, per door (STU3 and HL7 v2 share the
#: FHIR names and statuses; the BaRS door's entries are prefixed ``bars_``).
BOOKED = {"book": 201, "bars_book": 201, "bars_message_book": 200}
CANCELLED = {"cancel": 200, "bars_cancel": 200, "bars_message_cancel": 200}
#: How a consumer not in the regions table (so out of area everywhere) is shown.
NO_REGION = "(no region)"
UNASSIGNED = "unassigned"
MARK = " [cross-border]"


@dataclass
class Tally:
    bookings: int = 0
    cancellations: int = 0
    dnas: int = 0


#: (consumer region, provider region, cross-border) and (commissioner, cross-border).
Pair = tuple[str, str, bool]
Payer = tuple[str, bool]


@dataclass
class BorderTables:
    by_pair: dict[Pair, Tally] = field(default_factory=dict)
    by_commissioner: dict[Payer, Tally] = field(default_factory=dict)

    def add(self, entry: AuditEntry, kind: str) -> None:
        cross = bool(entry.cross_border)
        pair = (entry.consumer_region or NO_REGION, entry.provider_region or NO_REGION, cross)
        payer = (entry.commissioner or UNASSIGNED, cross)
        for tally in (
            self.by_pair.setdefault(pair, Tally()),
            self.by_commissioner.setdefault(payer, Tally()),
        ):
            setattr(tally, kind, getattr(tally, kind) + 1)


def kind_of(entry: AuditEntry) -> str | None:
    """``bookings`` or ``cancellations`` for a successful decided call, else None."""
    if entry.cross_border is None:
        return None
    if BOOKED.get(entry.interaction) == entry.status:
        return "bookings"
    if CANCELLED.get(entry.interaction) == entry.status:
        return "cancellations"
    return None


def build(
    entries: Sequence[AuditEntry],
    noshows: Sequence[AppointmentVersion] = (),
    history: Sequence[AuditEntry] = (),
) -> BorderTables:
    """The tables of the period's ``entries`` and ``noshows``; ``history`` holds the
    entries naming the noshow appointments (their bookings may be older than the period)."""
    tables = BorderTables()
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        kind = kind_of(entry)
        if kind is None:
            continue
        if entry.appointment_id is not None:
            if (kind, entry.appointment_id) in seen:
                continue
            seen.add((kind, entry.appointment_id))
        tables.add(entry, kind)
    booked: dict[str, AuditEntry] = {}
    for entry in (*history, *entries):
        if entry.appointment_id and kind_of(entry) == "bookings":
            booked.setdefault(entry.appointment_id, entry)
    for appointment_id in dict.fromkeys(v.appointment_id for v in noshows):
        if appointment_id in booked:
            tables.add(booked[appointment_id], "dnas")
    return tables


async def dna_inputs(
    store: Store, start: datetime, end: datetime
) -> tuple[list[AppointmentVersion], list[AuditEntry]]:
    """The period's noshow versions and the audit entries naming their appointments."""
    noshows = await store.noshows_between(start, end)
    if not noshows:
        return [], []
    return noshows, await store.audit_of_appointments([v.appointment_id for v in noshows])


def _counts(tally: Tally) -> dict[str, int]:
    return {"bookings": tally.bookings, "cancellations": tally.cancellations, "dnas": tally.dnas}


def as_json(tables: BorderTables) -> dict[str, Any]:
    return {
        "by_region_pair": [
            {"consumer_region": c, "provider_region": p, "cross_border": x, **_counts(t)}
            for (c, p, x), t in sorted(tables.by_pair.items())
        ],
        "by_commissioner": [
            {"commissioner": c, "cross_border": x, **_counts(t)}
            for (c, x), t in sorted(tables.by_commissioner.items())
        ],
    }


def _line(label: str, tally: Tally) -> str:
    return (
        f"  {label}: bookings {tally.bookings}, cancellations {tally.cancellations}, "
        f"DNAs {tally.dnas}"
    )


def render_text(tables: BorderTables) -> str:
    lines = ["Bookings across borders, by region pair (consumer -> provider):"]
    for (consumer, provider, cross), tally in sorted(tables.by_pair.items()):
        lines.append(_line(f"{consumer} -> {provider}{MARK if cross else ''}", tally))
    if not tables.by_pair:
        lines.append("  none (no booking under a policy in the period)")
    lines.append("Bookings across borders, by accountable commissioner:")
    for (commissioner, cross), tally in sorted(tables.by_commissioner.items()):
        lines.append(_line(f"{commissioner}{MARK if cross else ''}", tally))
    if not tables.by_commissioner:
        lines.append("  none")
    return "\n".join(lines)
