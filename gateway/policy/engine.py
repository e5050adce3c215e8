"""Booking policies applied: which slots a consumer is shown, and whether it may book or
cancel, with the rule that decided and who is accountable (gateway/policy/model.py).

The booking service asks; every front door goes through it, so the rules hold for
STU3, BaRS, HL7 v2 and ITK alike. A decision never depends on anything but the
consumer, the service, the slot itself and the time, so the slots a search shows are
exactly the slots a booking may take.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.domain import DeliveryChannel, Slot, SlotSearchResult
from gateway.policy.model import (
    Accountable,
    InAreaShare,
    NamedConsumers,
    OutOfAreaWindow,
    PolicyFile,
    Region,
    Release,
    ServicePolicy,
    load_files,
)

#: Sessions are days as the provider lives them: the slot grid is counted in UK time.
UK = ZoneInfo("Europe/London")
UNRESTRICTED = "unrestricted"
UNASSIGNED = "unassigned"


class Refusal(enum.StrEnum):
    #: The consumer is not in the groups the rule names (STU3 403, BaRS REC_FORBIDDEN).
    FORBIDDEN = "forbidden"
    #: An out-of-area booking without an accepted reason (STU3 422, BaRS REC_FORBIDDEN).
    REASON_REQUIRED = "reason_required"


@dataclass(frozen=True, slots=True)
class Consumer:
    ods: str | None
    region: str | None = None
    icb: str | None = None
    commissioner: str | None = None


@dataclass(frozen=True, slots=True)
class SlotFacts:
    """What of a slot the release rules look at."""

    start: datetime
    end: datetime
    schedule_id: str | None = None
    delivery_channel: DeliveryChannel | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """One answer of the policy, with what the audit keeps of it."""

    allowed: bool
    action: str
    service_id: str | None
    #: The rule that allowed or refused (``book:region:north``, ``release:in-area-first``).
    rule: str
    why: str
    consumer_region: str | None = None
    provider_region: str | None = None
    #: Who pays: the commissioner accountable for this booking.
    commissioner: str | None = None
    cross_border: bool = False
    reason: str | None = None
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class SlotVerdict:
    shown: bool
    rule: str
    why: str


@dataclass
class Policy:
    """The policy of one generation (swapped whole on reload, like routes)."""

    file: PolicyFile = field(default_factory=PolicyFile)
    regions: dict[str, Region] = field(default_factory=dict)
    #: A hash of the files, part of the mapping version.
    fingerprint: str = ""
    folder: Path | None = None

    @classmethod
    def load(cls, folder: Path) -> Policy:
        policy, regions = load_files(folder)
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        return cls(policy, regions, digest.hexdigest()[:12], folder)

    def service(self, service_id: str | None) -> ServicePolicy | None:
        return self.file.services.get(service_id or "")

    def consumer(self, ods: str | None) -> Consumer:
        row = self.regions.get((ods or "").upper())
        if row is None:
            return Consumer(ods)
        return Consumer(ods, row.region, row.icb, row.commissioner)

    # -- groups ---------------------------------------------------------------------

    @staticmethod
    def in_area(service: ServicePolicy, consumer: Consumer) -> bool:
        return consumer.region is not None and consumer.region == service.region

    def member(
        self,
        group: str,
        service: ServicePolicy,
        consumer: Consumer,
        booked_by: str | None = None,
    ) -> bool:
        kind, _, value = group.partition(":")
        ods = (consumer.ods or "").upper()
        if kind in ("in-area", "out-of-area"):
            return self.in_area(service, consumer) == (kind == "in-area")
        if kind in ("booked-by", "ods"):
            named = (booked_by or "") if kind == "booked-by" else value
            return bool(ods) and ods == named.upper()
        attribute = {"region": consumer.region, "icb": consumer.icb}
        attribute["commissioner"] = consumer.commissioner
        return kind == "any" or (kind in attribute and attribute[kind] == value)

    def _matching(
        self,
        groups: Iterable[str],
        service: ServicePolicy,
        consumer: Consumer,
        booked_by: str | None = None,
    ) -> str | None:
        return next((g for g in groups if self.member(g, service, consumer, booked_by)), None)

    # -- slots ----------------------------------------------------------------------

    def slot_verdict(
        self, service: ServicePolicy, consumer: Consumer, slot: SlotFacts, now: datetime
    ) -> SlotVerdict:
        """Whether the release rules give this slot to this consumer, and which rule."""
        for rule in service.release:
            verdict = _release(rule, self, service, consumer, slot, now)
            if verdict is not None:
                return verdict
        return SlotVerdict(True, "release", "no release rule holds this slot back")

    def rule_verdicts(
        self, service: ServicePolicy, consumer: Consumer, slot: SlotFacts, now: datetime
    ) -> list[tuple[Release, SlotVerdict]]:
        """Each release rule's own verdict on this slot, in order (``policy explain``)."""
        return [
            (
                rule,
                _release(rule, self, service, consumer, slot, now)
                or SlotVerdict(True, f"release:{rule.name}", "does not hold this slot back"),
            )
            for rule in service.release
        ]

    def visible(
        self, service_id: str, ods: str | None, result: SlotSearchResult, now: datetime
    ) -> SlotSearchResult:
        """The slots of a search this consumer may book (all of them if unrestricted).

        A result narrowed for this consumer carries its own version, so a page kept
        for one consumer is never shown to another (gateway/fhir/slot_pages.py).
        """
        service = self.service(service_id)
        if service is None:
            return result
        consumer = self.consumer(ods)
        allowed = self._matching(service.see, service, consumer) and self._matching(
            service.book, service, consumer
        )
        shown = [
            bool(allowed) and self.slot_verdict(service, consumer, _facts(s), now).shown
            for s in result.slots
        ]
        if all(shown):
            return result
        kept = tuple(s for s, ok in zip(result.slots, shown, strict=True) if ok)
        hidden = sorted(s.id for s, ok in zip(result.slots, shown, strict=True) if not ok)
        digest = hashlib.sha256("|".join(hidden).encode()).hexdigest()[:16]
        version = f"{result.version}~{digest}" if result.version is not None else None
        return result.model_copy(update={"slots": kept, "version": version})

    # -- booking and cancelling -----------------------------------------------------

    def _decision(
        self,
        action: str,
        service_id: str | None,
        service: ServicePolicy | None,
        consumer: Consumer,
        allowed: bool,
        rule: str,
        why: str,
        *,
        refusal: Refusal = Refusal.FORBIDDEN,
        reason: str | None = None,
    ) -> Decision:
        cross = service is not None and not self.in_area(service, consumer)
        return Decision(
            allowed=allowed,
            action=action,
            service_id=service_id,
            rule=rule,
            why=why,
            consumer_region=consumer.region,
            provider_region=service.region if service else None,
            commissioner=self._accountable(service, consumer) if service else None,
            cross_border=cross,
            reason=reason,
            refusal=None if allowed else refusal,
        )

    @staticmethod
    def _accountable(service: ServicePolicy, consumer: Consumer) -> str:
        if Policy.in_area(service, consumer):
            return service.commissioner
        named = service.out_of_area.accountable
        if named == Accountable.PROVIDER:
            return service.commissioner
        if named == Accountable.CONSUMER:
            return consumer.commissioner or UNASSIGNED
        return named

    def may_book(
        self,
        service_id: str | None,
        ods: str | None,
        slot: SlotFacts | None,
        reason: str | None,
        now: datetime,
        action: str = "book",
    ) -> Decision:
        """May this consumer book this slot (``action`` "refer": send a referral,
        "reschedule": move a booking here, no reason asked again)?"""
        service = self.service(service_id)
        consumer = self.consumer(ods)
        if service is None:
            why = "no policy for this service"
            return self._decision(action, service_id, None, consumer, True, UNRESTRICTED, why)

        def refused(rule: str, why: str, refusal: Refusal = Refusal.FORBIDDEN) -> Decision:
            return self._decision(
                action,
                service_id,
                service,
                consumer,
                False,
                rule,
                why,
                refusal=refusal,
                reason=reason,
            )

        group = self._matching(service.book, service, consumer)
        if group is None:
            return refused(
                "book", f"'{ods}' is in none of the booking groups ({', '.join(service.book)})"
            )
        verdict = self.slot_verdict(service, consumer, slot, now) if slot else None
        if verdict is not None and not verdict.shown:
            return refused(verdict.rule, verdict.why)
        problem = _reason_problem(service, reason) if action == "book" else None
        if problem is not None and not self.in_area(service, consumer):
            return refused("out_of_area.reason", problem, Refusal.REASON_REQUIRED)
        why = f"'{ods}' is in the booking group '{group}'"
        return self._decision(
            action, service_id, service, consumer, True, f"book:{group}", why, reason=reason
        )

    def may_cancel(
        self, service_id: str | None, ods: str | None, booked_by: str | None
    ) -> Decision:
        """May this consumer cancel (or change) a booking here? The booker always may."""
        service = self.service(service_id)
        consumer = self.consumer(ods)
        if service is None:
            why = "no policy for this service"
            return self._decision("cancel", service_id, None, consumer, True, UNRESTRICTED, why)
        groups = ("booked-by", *(service.cancel if service.cancel is not None else service.book))
        group = self._matching(groups, service, consumer, booked_by)
        if group is None:
            why = f"'{ods}' did not book this and is in none of the groups ({', '.join(groups)})"
            return self._decision("cancel", service_id, service, consumer, False, "cancel", why)
        why = f"'{ods}' is in the cancelling group '{group}'"
        return self._decision("cancel", service_id, service, consumer, True, f"cancel:{group}", why)


def _reason_problem(service: ServicePolicy, reason: str | None) -> str | None:
    rules = service.out_of_area
    if not rules.reason_required:
        return None
    accepted = ", ".join(rules.reasons) or "any code"
    if not reason:
        return f"an out-of-area booking at this service needs a reason ({accepted})"
    if rules.reasons and reason not in rules.reasons:
        return f"'{reason}' is not an accepted out-of-area reason ({accepted})"
    return None


def _facts(slot: Slot) -> SlotFacts:
    return SlotFacts(slot.start, slot.end, slot.schedule_id, slot.delivery_channel)


def grid_position(slot: SlotFacts) -> int:
    """The slot's place in its day's grid of slots its own length (UK time): 0, 1, 2…

    Depends on the slot alone (not on which others are still free), so a slot shown
    to a consumer stays bookable by it whatever others book meanwhile.
    """
    local = slot.start.astimezone(UK)
    minutes = max(1, int((slot.end - slot.start).total_seconds() // 60))
    return (local.hour * 60 + local.minute) // minutes


def kept_for_in_area(rule: InAreaShare, slot: SlotFacts) -> bool:
    """Whether the share keeps this slot: ``share`` of each run of slots, spread evenly."""
    k = grid_position(slot)
    return math.floor((k + 1) * rule.share) > math.floor(k * rule.share)


def _release(
    rule: Release,
    policy: Policy,
    service: ServicePolicy,
    consumer: Consumer,
    slot: SlotFacts,
    now: datetime,
) -> SlotVerdict | None:
    """The verdict of one rule if it holds this slot back from this consumer, else None."""
    name = f"release:{rule.name}"
    out = not policy.in_area(service, consumer)
    if isinstance(rule, NamedConsumers):
        matches = (not rule.schedules or slot.schedule_id in rule.schedules) and (
            not rule.delivery_channels or slot.delivery_channel in rule.delivery_channels
        )
        if matches and policy._matching(rule.consumers, service, consumer) is None:
            return SlotVerdict(False, name, f"kept for {', '.join(rule.consumers)}")
        return None
    if not out:
        return None
    if isinstance(rule, InAreaShare):
        opens = slot.start - timedelta(hours=rule.until_hours_before)
        if now < opens and kept_for_in_area(rule, slot):
            why = f"kept for in-area consumers until {opens.isoformat()}"
            return SlotVerdict(False, name, why)
        return None
    if isinstance(rule, OutOfAreaWindow) and slot.start > now + timedelta(hours=rule.within_hours):
        why = f"out-of-area consumers see slots starting within {rule.within_hours:g} h"
        return SlotVerdict(False, name, why)
    return None
