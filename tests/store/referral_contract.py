"""The referral part of the shared Store suite; ``StoreContract`` includes it.

Kept in its own module so the appointment contract stays readable; every store
backend that subclasses ``StoreContract`` runs these too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from adapters.domain import (
    Address,
    ClinicalContent,
    Coding,
    Gender,
    HumanName,
    Patient,
    Referral,
    ReferralAttachment,
    ReferralStatus,
    TriageOutcome,
)
from gateway.store.base import ReferralVersion, Store, VersionConflict

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NHS_A = "9000000009"
NHS_B = "9000000017"
DX02 = Coding(system="https://fhir.nhs.uk/CodeSystem/pathways-dx-codes", code="DX02")


def make_referral(
    referral_id: str = "ref-1",
    version: int = 1,
    *,
    nhs_number: str | None = NHS_A,
    status: ReferralStatus = ReferralStatus.ACTIVE,
    appointment_id: str | None = None,
    document_id: str | None = None,
    authored: datetime = T0,
    summary: str = "nosebleed for 15 minutes",
) -> ReferralVersion:
    """One referral version with a patient, a Pathways disposition and one attachment."""
    patient = Patient(
        nhs_number=nhs_number,
        name=HumanName(family="Smith", given=("Jo",)),
        gender=Gender.FEMALE,
        birth_date=date(1980, 1, 2),
        address=Address(lines=("1 High Street",), city="Leeds", postcode="LS1 1AA"),
    )
    referral = Referral(
        id=referral_id,
        version=version,
        status=status,
        patient=patient,
        service_id="svc-1",
        triage=TriageOutcome(disposition=DX02, text="Pathways assessment"),
        clinical=ClinicalContent(
            summary=summary,
            attachments=(
                ReferralAttachment(
                    kind="QuestionnaireResponse", identifier="qr-1", data='{"status":"completed"}'
                ),
            ),
        ),
        document_identifier=document_id,
        appointment_id=appointment_id,
        authored=authored,
    )
    return ReferralVersion(
        referral=referral,
        route="embedded",
        last_modified=T0 + timedelta(seconds=version),
        recorded_by="A81001",
    )


class ReferralStoreContract:
    """Referral versions, their indexes and the document links, for every Store."""

    async def test_referral_versions_append_in_order(self, store: Store) -> None:
        """Referral versions 1..n append; the newest is current, each version stays readable."""
        first = make_referral(version=1)
        second = make_referral(version=2, status=ReferralStatus.REVOKED)
        await store.add_referral_version(first)
        await store.add_referral_version(second)

        assert await store.get_referral("ref-1") == second
        assert await store.get_referral("ref-1", 1) == first
        assert await store.referral_versions("ref-1") == [first, second]
        assert await store.get_referral("nope") is None
        assert await store.get_referral("ref-1", 3) is None

    @pytest.mark.parametrize("wrong", [1, 3])
    async def test_referral_version_out_of_sequence_conflicts(
        self, store: Store, wrong: int
    ) -> None:
        """A referral version other than current+1 raises VersionConflict and writes nothing."""
        await store.add_referral_version(make_referral(version=1))

        with pytest.raises(VersionConflict):
            await store.add_referral_version(make_referral(version=wrong, summary="lost"))

        assert [v.version for v in await store.referral_versions("ref-1")] == [1]
        with pytest.raises(VersionConflict):
            await store.add_referral_version(make_referral("ref-2", version=2))

    async def test_concurrent_referral_writers_exactly_one_wins(self, store: Store) -> None:
        """Ten concurrent writers of referral version 2: one succeeds, the rest conflict."""
        await store.add_referral_version(make_referral(version=1))
        results = await asyncio.gather(
            *(store.add_referral_version(make_referral(version=2)) for _ in range(10)),
            return_exceptions=True,
        )
        assert results.count(None) == 1
        assert all(isinstance(r, VersionConflict) for r in results if r is not None)

    async def test_referral_round_trips_every_field_as_utc(self, store: Store) -> None:
        """A referral comes back equal, its instants as aware UTC, attachments intact."""
        plus_two = timezone(timedelta(hours=2))
        stored = make_referral(authored=datetime(2025, 3, 1, 11, 0, tzinfo=plus_two))
        await store.add_referral_version(stored)

        got = await store.get_referral("ref-1")
        assert got == stored
        assert got is not None and got.referral.authored.utcoffset() == timedelta(0)
        assert got.referral.clinical.attachments[0].data == '{"status":"completed"}'

    async def test_referrals_by_nhs_number_are_current_versions(self, store: Store) -> None:
        """Listing by NHS number returns current versions only, oldest authored first."""
        await store.add_referral_version(make_referral("ref-2", authored=T0 + timedelta(hours=1)))
        await store.add_referral_version(make_referral("ref-1"))
        await store.add_referral_version(make_referral("ref-1", 2, status=ReferralStatus.REVOKED))
        await store.add_referral_version(make_referral("ref-3", nhs_number=NHS_B))
        # A referral whose current version names another patient is no longer NHS_A's.
        await store.add_referral_version(make_referral("ref-4"))
        await store.add_referral_version(make_referral("ref-4", 2, nhs_number=NHS_B))

        found = await store.find_referrals_by_nhs_number(NHS_A)
        assert [(v.referral_id, v.version) for v in found] == [("ref-1", 2), ("ref-2", 1)]

    async def test_referrals_by_appointment_follow_the_current_link(self, store: Store) -> None:
        """Listing by appointment finds referrals whose current version names it."""
        await store.add_referral_version(make_referral("ref-1"))
        await store.add_referral_version(make_referral("ref-1", 2, appointment_id="appt-1"))
        await store.add_referral_version(make_referral("ref-2", appointment_id="appt-2"))
        await store.add_referral_version(make_referral("ref-2", 2, appointment_id="appt-1"))

        found = await store.find_referrals_by_appointment("appt-1")
        assert sorted((v.referral_id, v.version) for v in found) == [("ref-1", 2), ("ref-2", 2)]
        assert await store.find_referrals_by_appointment("appt-2") == []

    async def test_referral_by_document(self, store: Store) -> None:
        """A referral is found by the document id its current version names."""
        await store.add_referral_version(make_referral("ref-1", document_id="doc-1"))

        found = await store.find_referral_by_document("doc-1")
        assert found is not None and found.referral_id == "ref-1"
        assert await store.find_referral_by_document("doc-2") is None

    async def test_the_latest_document_link_wins(self, store: Store) -> None:
        """A document is linked to the last appointment that carried it (a rebooking moves it)."""
        assert await store.document_appointment("doc-1") is None
        await store.link_document("doc-1", "appt-1", T0)
        assert await store.document_appointment("doc-1") == "appt-1"
        await store.link_document("doc-1", "appt-2", T0 + timedelta(minutes=1))
        assert await store.document_appointment("doc-1") == "appt-2"
        assert await store.document_appointment("doc-2") is None
