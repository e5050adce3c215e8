"""Booking rules across borders at the ITK door: a 111 report is a referral into the service.

The door takes the sender's organisation from the distribution envelope's
senderAddress (``urn:nhs-uk:addressing:ods:CODE[:…]``); the demo addresses route every
report to the demo centre, here bookable (and so referrable) only by the north east and
by ods:C3001. A referral the policy refuses is the fault the door gives every refusal
a sender must fix: ITK 3000 (payload not accepted), its diagnostic naming the rule.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from adapters.itk_toolkit.errors import ToolkitCode, parse_fault
from adapters.itk_toolkit.names import ITK
from gateway.http.exchange import AUDIT
from gateway.store import AuditEntry
from tests.itk import messages
from tests.itk.conftest import Sender, Start
from tests.policy.files import (
    CENTRE,
    CENTRE_NARROWED,
    IN_AREA,
    LONDON_CAS,
    OUT_OF_AREA,
    policy_folder,
)


async def _start(itk_gateway: Start, tmp_path: Path) -> Sender:
    """The ITK door with the demo policy, the demo centre's ``book`` narrowed."""
    return await itk_gateway(policy=policy_folder(tmp_path, CENTRE_NARROWED))


def _report_from(ods: str) -> bytes:
    """The sample 111 report with a fresh tracking id, sent by organisation ``ods``."""

    def sent_by(root: etree._Element) -> None:
        address = next(root.iter(ITK.q("senderAddress")))
        address.set("uri", f"urn:nhs-uk:addressing:ods:{ods}")

    body, _ = messages.retracked(messages.edit(messages.sample(), sent_by))
    return body


async def _audited(sender: Sender, ods: str) -> AuditEntry:
    await sender.app[AUDIT].flush()
    entries = await sender.store.audit_entries(50)
    (row,) = [e for e in entries if e.interaction == "itk_report" and e.organisation_ods == ods]
    return row


async def test_a_report_from_outside_the_booking_groups_is_refused_and_makes_no_referral(
    itk_gateway: Start, tmp_path: Path
) -> None:
    """A sender in none of the service's booking groups: fault 3000 naming the rule, no referral."""
    sender = await _start(itk_gateway, tmp_path)
    body = _report_from(OUT_OF_AREA)
    sender.clock.at = messages.created(body)
    resp = await sender.send(body)
    assert resp.status == 500
    fault = parse_fault(await resp.read())
    assert fault is not None and fault.sender, "the sender must fix it, not send again"
    assert fault.info is not None and fault.info.row is ToolkitCode.PAYLOAD_REFUSED
    diagnostic = fault.info.diagnostic or ""
    assert "'book'" in diagnostic and CENTRE in diagnostic and OUT_OF_AREA in diagnostic
    assert await sender.store.find_referral_by_document(messages.document_id(body)) is None
    row = await _audited(sender, OUT_OF_AREA)
    assert row.outcome == "fault_3000" and row.policy_rule == "book"
    assert row.cross_border is True and row.consumer_region == "south-west"


async def test_reports_from_the_groups_named_are_accepted_as_referrals(
    itk_gateway: Start, tmp_path: Path
) -> None:
    """The north east and the London CAS named: each report accepted, a referral stored, audited."""
    sender = await _start(itk_gateway, tmp_path)
    expected = {
        IN_AREA: ("book:in-area", False, "QHM"),
        LONDON_CAS: ("book:ods:C3001", True, "QMJ"),
    }
    for ods, (rule, cross, commissioner) in expected.items():
        body = _report_from(ods)
        sender.clock.at = messages.created(body)
        resp = await sender.send(body)
        assert resp.status == 200, await resp.text()
        assert parse_fault(await resp.read()) is None
        referral = await sender.store.find_referral_by_document(messages.document_id(body))
        assert referral is not None and referral.referral.service_id == CENTRE
        row = await _audited(sender, ods)
        assert row.outcome == "referral_created" and row.policy_rule == rule
        assert row.cross_border is cross and row.commissioner == commissioner
