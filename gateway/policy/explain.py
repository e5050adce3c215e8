"""What the booking policy decides for one consumer at one service, for an integrator
(``uec-gateway policy explain``): where the consumer is, whether it may see, book and
cancel and which group matched, what an out-of-area booking needs, and, given a slot,
what each release rule does with it now. One structure, shown as text or as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from gateway.policy.engine import Consumer, Policy, SlotFacts, kept_for_in_area
from gateway.policy.model import InAreaShare, NamedConsumers, OutOfAreaWindow, Release
from gateway.policy.model import ServicePolicy as Service

Json = dict[str, Any]


def _group(policy: Policy, groups: Iterable[str], service: Service, consumer: Consumer) -> Json:
    named = list(groups)
    matched = next((g for g in named if policy.member(g, service, consumer)), None)
    return {"allowed": matched is not None, "group": matched, "groups": named}


def explain(
    policy: Policy, service_id: str, ods: str, slot: SlotFacts | None, now: datetime
) -> Json:
    """The explanation (``policy`` None: the service has no policy, nothing is restricted)."""
    consumer = policy.consumer(ods)
    out: Json = {
        "service_id": service_id,
        "consumer": {
            "ods": ods,
            "in_regions_table": consumer.region is not None,
            "region": consumer.region,
            "icb": consumer.icb,
            "commissioner": consumer.commissioner,
        },
        "policy": None,
    }
    service = policy.service(service_id)
    if service is None:
        return out
    in_area = policy.in_area(service, consumer)
    book = _group(policy, service.book, service, consumer)
    see = _group(policy, service.see, service, consumer)
    # A search shows only the slots a consumer may also book (Policy.visible).
    see["allowed"] = see["allowed"] and book["allowed"]
    see["needs_book"] = see["group"] is not None and not book["allowed"]
    cancel = _group(
        policy, service.cancel if service.cancel is not None else service.book, service, consumer
    )
    decision = policy.may_book(service_id, ods, None, None, now)
    rules = service.out_of_area
    out["policy"] = {
        "service": {"region": service.region, "commissioner": service.commissioner},
        "in_area": in_area,
        "see": see,
        "book": book,
        "cancel": {**cancel, "booker_may_always_cancel": True},
        "out_of_area": {
            "reason_required": rules.reason_required and not in_area,
            "reasons": list(rules.reasons),
        },
        "accountable_commissioner": decision.commissioner,
        "cross_border": decision.cross_border,
    }
    if slot is not None:
        out["slot"] = _slot(policy, service, consumer, slot, now)
    return out


def _slot(
    policy: Policy, service: Service, consumer: Consumer, slot: SlotFacts, now: datetime
) -> Json:
    verdict = policy.slot_verdict(service, consumer, slot, now)
    in_area = policy.in_area(service, consumer)
    return {
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "at": now.isoformat(timespec="seconds"),
        "shown": verdict.shown,
        "rule": verdict.rule,
        "why": verdict.why,
        "rules": [
            _rule(rule, v.shown, v.why, slot, now, in_area)
            for rule, v in policy.rule_verdicts(service, consumer, slot, now)
        ],
    }


def _rule(
    rule: Release, shown: bool, why: str, slot: SlotFacts, now: datetime, in_area: bool
) -> Json:
    if in_area and not isinstance(rule, NamedConsumers):
        why = "holds slots back from out-of-area consumers only"
    item: Json = {"name": rule.name, "kind": rule.kind, "shown": shown, "why": why}
    if isinstance(rule, InAreaShare):
        kept = kept_for_in_area(rule, slot)
        opens = slot.start - timedelta(hours=rule.until_hours_before)
        item |= {"share": rule.share, "in_kept_share": kept}
        item["opens_to_out_of_area"] = opens.isoformat() if kept else None
    elif isinstance(rule, OutOfAreaWindow):
        ends = now + timedelta(hours=rule.within_hours)
        item["window_ends"] = ends.isoformat(timespec="seconds")
    else:
        item |= {
            "consumers": list(rule.consumers),
            "schedules": list(rule.schedules),
            "delivery_channels": [str(c) for c in rule.delivery_channels],
        }
    return item


def _may(what: str, part: Json) -> str:
    if part["allowed"]:
        return f"  {what}: yes (group '{part['group']}')"
    if part.get("needs_book"):
        return f"  {what}: no (in group '{part['group']}', but a search shows only bookable slots)"
    return f"  {what}: no (in none of: {', '.join(part['groups']) or 'no group'})"


def render_text(found: Json) -> str:
    who = found["consumer"]
    sid = found["service_id"]
    if who["in_regions_table"]:
        where = (
            f"region {who['region']}, ICB {who['icb'] or '-'}, "
            f"commissioner {who['commissioner'] or '-'}"
        )
    else:
        where = "not in the regions table, so out of area at every service"
    lines = [f"consumer {who['ods']}: {where}"]
    rules = found["policy"]
    if rules is None:
        lines.append(f"service {sid}: no policy for this service; nothing is restricted")
        return "\n".join(lines)
    service = rules["service"]
    area = "in area" if rules["in_area"] else "out of area"
    lines.append(
        f"service {sid}: region {service['region']}, commissioner {service['commissioner']} "
        f"({area} for this consumer)"
    )
    lines += [_may("see and search", rules["see"]), _may("book", rules["book"])]
    lines.append(_may("cancel", rules["cancel"]) + "; the booker always may")
    reasons = rules["out_of_area"]
    if reasons["reason_required"]:
        codes = ", ".join(reasons["reasons"]) or "any code"
        lines.append(f"  out-of-area reason: required ({codes})")
    else:
        lines.append("  out-of-area reason: not required")
    cross = " (cross-border)" if rules["cross_border"] else ""
    lines.append(f"  accountable commissioner: {rules['accountable_commissioner']}{cross}")
    if "slot" in found:
        lines += _slot_text(found["slot"])
    return "\n".join(lines)


def _slot_text(slot: Json) -> list[str]:
    shown = "shown" if slot["shown"] else f"held back by {slot['rule']}"
    lines = [f"slot {slot['start']} to {slot['end']}, now {slot['at']}: {shown} ({slot['why']})"]
    if not slot["rules"]:
        lines.append("  no release rules")
    for rule in slot["rules"]:
        verdict = "shows it" if rule["shown"] else "holds it back"
        line = f"  {rule['name']} ({rule['kind']}): {verdict}: {rule['why']}"
        if rule["kind"] == "in_area_share":
            line += (
                f"; in the kept share, open to out-of-area consumers from "
                f"{rule['opens_to_out_of_area']}"
                if rule["in_kept_share"]
                else "; not in the kept share"
            )
        elif rule["kind"] == "out_of_area_window":
            line += f"; the window now ends {rule['window_ends']}"
        lines.append(line)
    return lines
