"""A published message made sendable again: fresh ids and times, and moved to a live slot.

A receiver refuses a second message with an X-Request-Id it has seen, and a booking of a
slot its diary does not offer; the published examples name slots and times of 2021. So a
sender replaying an example renews what identifies the message (Bundle.id, each
``urn:uuid`` fullUrl and every reference to it, MessageHeader.id), stamps it now
(Bundle.timestamp, every ``meta.lastUpdated``) and, for a booking, points its Slot and its
Appointment at a slot a search just offered (the slot's id, start and end). The clinical
content is left exactly as published.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.bars_toolkit._resources import Json, instant

_URN = re.compile(r"urn:uuid:[0-9a-fA-F-]{36}")


def fresh(message: Mapping[str, Any], now: datetime) -> Json:
    """``message`` with new ids and fullUrls (references follow) and stamped ``now``."""
    text = json.dumps(message)
    renamed = {old: f"urn:uuid:{uuid.uuid4()}" for old in set(_URN.findall(text))}
    out: Json = json.loads(_URN.sub(lambda m: renamed[m.group(0)], text))
    stamp = instant(now)
    out["id"] = str(uuid.uuid4())
    out.setdefault("meta", {})["lastUpdated"] = stamp
    if "timestamp" in out:
        out["timestamp"] = stamp
    for entry in out.get("entry") or []:
        resource = entry.get("resource") or {}
        resource.setdefault("meta", {})["lastUpdated"] = stamp
        if resource.get("resourceType") == "MessageHeader":
            resource["id"] = str(uuid.uuid4())
    return out


def move_to_slot(message: Mapping[str, Any], slot: Mapping[str, Any]) -> Json:
    """``message`` with its Slot entries and Appointments at ``slot`` (a searched R4 Slot)."""
    out: Json = json.loads(json.dumps(message))
    for entry in out.get("entry") or []:
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType")
        if kind not in ("Slot", "Appointment"):
            continue
        resource["start"], resource["end"] = slot["start"], slot["end"]
        if kind == "Slot":
            resource["id"] = slot["id"]
    return out


def has_slot(message: Mapping[str, Any]) -> bool:
    """Whether the message books a slot (it carries a Slot entry)."""
    entries = message.get("entry") or []
    return any((e.get("resource") or {}).get("resourceType") == "Slot" for e in entries)
