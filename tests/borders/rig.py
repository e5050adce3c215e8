"""A private copy of the demo booking policy, and consumers of the STU3 door from two regions."""

from __future__ import annotations

import copy
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.api.conftest import ROOT, Consumer

DEMO_POLICY = ROOT / "mappings" / "policy" / "demo"
#: In the demo regions table: A1001 is in the north east (the demo services' region),
#: B2001 in the south west, B2002 too (another south-west consumer).
IN_AREA, OUT_OF_AREA, OTHER_OUT = "A1001", "B2001", "B2002"


def policy_copy(tmp: Path) -> Path:
    target = tmp / "policy"
    shutil.copytree(DEMO_POLICY, target)
    return target


def as_org(consumer: Consumer, ods: str) -> Consumer:
    """The same gateway seen by another consumer organisation (the JWT's ODS code)."""
    other = copy.copy(consumer)  # the same kind of consumer (its service, its door)
    other.ods = ods
    return other


async def slots(consumer: Consumer, query: str = "") -> list[dict[str, Any]]:
    resp = await consumer.search(query)
    assert resp.status == 200
    bundle = await resp.json(content_type=None)
    return [
        e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Slot"
    ]


def start_of(slot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(slot["start"].replace("Z", "+00:00"))
