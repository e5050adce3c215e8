"""Patient contact details in a booking (fs_patientcontact.md, fs_fhir_overrides.md)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Consumer, booking_body


def _with_telecom(slot: dict[str, Any], ranks: list[int | None]) -> dict[str, Any]:
    body = booking_body(slot)
    patient = next(c for c in body["contained"] if c["resourceType"] == "Patient")
    patient["telecom"] = [
        {"system": "phone", "value": f"01234 567 89{n}", "use": "home"}
        | ({} if rank is None else {"rank": rank})
        for n, rank in enumerate(ranks)
    ]
    return body


async def test_telecom_rank_rules_are_one_rule_with_one_code(consumer: Consumer) -> None:
    """fs_patientcontact.md: exactly one rank 1 where telecom is given; others refused alike."""
    slots = await consumer.free_slots(2)
    refused = ([1, 1], [2, 2], [1, None], [2])
    for ranks in refused:
        resp = await consumer.book(_with_telecom(slots[0], ranks))
        assert resp.status == 422, (ranks, await resp.text())
        issue = (await resp.json(content_type=None))["issue"][0]
        assert (issue["code"], issue["details"]["coding"][0]["code"]) == (
            "processing",
            "INVALID_RESOURCE",
        ), ranks
        assert "telecom" in issue["expression"][0] and "rank" in issue["diagnostics"], ranks
    # fs_patientcontact.md: others "can all be allocated the same value (e.g. 2)".
    resp = await consumer.book(_with_telecom(slots[1], [2, 1, 2]))
    assert resp.status == 201, await resp.text()
