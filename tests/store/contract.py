"""The shared Store compliance suite: every store backend subclasses ``StoreContract``.

A subclass supplies an async ``store`` fixture yielding an opened, empty store;
everything here speaks only the ``Store`` Protocol.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from adapters.domain import (
    Address,
    Booking,
    BookingStatus,
    Gender,
    HumanName,
    Patient,
    Slot,
    SlotStatus,
)
from gateway.store.base import (
    AppointmentVersion,
    AuditEntry,
    ClaimState,
    LedgerClaim,
    SlotHomeRow,
    Store,
    VersionConflict,
)
from tests.store.referral_contract import ReferralStoreContract

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NHS_A = "9000000009"
NHS_B = "9000000017"


def make_version(
    appointment_id: str = "appt-1",
    version: int = 1,
    *,
    nhs_number: str | None = NHS_A,
    start: datetime = T0,
    minutes: int = 10,
    status: BookingStatus = BookingStatus.BOOKED,
    supplier_ref: str = "REF-1",
    route: str = "embedded",
    description: str = "urgent care",
) -> AppointmentVersion:
    """One appointment version with a minimal but valid booking."""
    end = start + timedelta(minutes=minutes)
    patient = Patient(
        nhs_number=nhs_number,
        name=HumanName(family="Smith", given=("Jo",)),
        gender=Gender.FEMALE,
        birth_date=date(1980, 1, 2),
        address=Address(lines=("1 High Street",), city="Leeds", postcode="LS1 1AA"),
    )
    slot = Slot(
        id=f"slot-{appointment_id}",
        schedule_id="sched-1",
        identifier="6f1c8e1e-7a9e-4a5c-9e3b-1a2b3c4d5e6f",
        status=SlotStatus.BUSY,
        start=start,
        end=end,
    )
    booking = Booking(
        supplier_ref=supplier_ref,
        status=status,
        slot=slot,
        service_id="svc-1",
        start=start,
        end=end,
        description=description,
        patient=patient,
        created=T0 - timedelta(days=1),
    )
    return AppointmentVersion(
        appointment_id=appointment_id,
        version=version,
        booking=booking,
        route=route,
        last_modified=T0 + timedelta(seconds=version),
        booked_by="A81001",
    )


class StoreContract(ReferralStoreContract):
    """Behaviour every Store must show; subclasses provide the ``store`` fixture."""

    # -- versions ------------------------------------------------------------

    async def test_versions_append_in_order(self, store: Store) -> None:
        """Versions 1..n append; get() is the newest, get(v) that one, versions() oldest first."""
        first = make_version(version=1)
        second = make_version(version=2, status=BookingStatus.CANCELLED)
        await store.add_version(first)
        await store.add_version(second)

        assert await store.get("appt-1") == second
        assert await store.get("appt-1", 1) == first
        assert await store.versions("appt-1") == [first, second]

    async def test_unknown_appointment_or_version_is_none(self, store: Store) -> None:
        """An unknown id or version reads as None (or an empty history), never an error."""
        await store.add_version(make_version())

        assert await store.get("nope") is None
        assert await store.get("appt-1", 2) is None
        assert await store.versions("nope") == []

    @pytest.mark.parametrize("wrong", [1, 3, 0])
    async def test_add_version_out_of_sequence_conflicts(self, store: Store, wrong: int) -> None:
        """A version other than current+1 raises VersionConflict and changes nothing."""
        await store.add_version(make_version(version=1))

        with pytest.raises(VersionConflict):
            await store.add_version(make_version(version=wrong, description="lost"))

        assert [v.version for v in await store.versions("appt-1")] == [1]
        await store.add_version(make_version(version=2))  # the store is still usable

    async def test_new_appointment_must_start_at_version_one(self, store: Store) -> None:
        """The first version of an unseen appointment id must be 1."""
        with pytest.raises(VersionConflict):
            await store.add_version(make_version(version=2))
        assert await store.get("appt-1") is None

    async def test_concurrent_writers_of_one_version_exactly_one_wins(self, store: Store) -> None:
        """Twenty concurrent writers of version 2: exactly one succeeds, the rest conflict."""
        await store.add_version(make_version(version=1))
        writers = [
            store.add_version(make_version(version=2, description=f"writer {n}")) for n in range(20)
        ]

        results = await asyncio.gather(*writers, return_exceptions=True)

        assert results.count(None) == 1
        assert all(isinstance(r, VersionConflict) for r in results if r is not None)
        winner = results.index(None)
        current = await store.get("appt-1")
        assert current is not None
        assert (current.version, current.booking.description) == (2, f"writer {winner}")

    async def test_datetimes_come_back_as_aware_utc(self, store: Store) -> None:
        """Instants given with any offset are returned as equal, timezone-aware UTC values."""
        plus_two = timezone(timedelta(hours=2))
        stored = make_version(start=datetime(2025, 3, 1, 11, 0, tzinfo=plus_two))
        await store.add_version(stored)

        got = await store.get("appt-1")
        assert got is not None
        assert got.last_modified.tzinfo is not None
        assert got.last_modified.utcoffset() == timedelta(0)
        assert got.booking.start == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        assert got.booking.start.utcoffset() == timedelta(0)

    # -- indexes ---------------------------------------------------------------

    async def test_find_by_nhs_number_returns_current_upcoming_versions(self, store: Store) -> None:
        """Only each appointment's current version, ending at or after not_before, by start."""
        later = make_version("later", start=T0 + timedelta(hours=3))
        await store.add_version(later)
        await store.add_version(make_version("rebooked", start=T0 + timedelta(hours=1)))
        rebooked = make_version("rebooked", 2, start=T0 + timedelta(hours=2))
        await store.add_version(rebooked)
        await store.add_version(make_version("past", start=T0 - timedelta(days=1)))
        await store.add_version(make_version("other", nhs_number=NHS_B))
        await store.add_version(make_version("anonymous", nhs_number=None))

        found = await store.find_by_nhs_number(NHS_A, not_before=T0)

        assert found == [rebooked, later]

    async def test_find_by_nhs_number_includes_end_equal_to_not_before(self, store: Store) -> None:
        """An appointment ending exactly at not_before is still returned."""
        edge = make_version(start=T0, minutes=10)
        await store.add_version(edge)

        assert await store.find_by_nhs_number(NHS_A, T0 + timedelta(minutes=10)) == [edge]
        assert await store.find_by_nhs_number(NHS_A, T0 + timedelta(minutes=11)) == []

    async def test_find_by_nhs_number_ignores_a_patient_named_only_in_history(
        self, store: Store
    ) -> None:
        """An appointment whose current version names another patient is not returned."""
        await store.add_version(make_version(nhs_number=NHS_A))
        await store.add_version(make_version(version=2, nhs_number=NHS_B))

        assert await store.find_by_nhs_number(NHS_A, T0) == []
        assert [v.version for v in await store.find_by_nhs_number(NHS_B, T0)] == [2]

    async def test_find_upcoming_returns_every_current_upcoming_version(self, store: Store) -> None:
        """Every patient's current versions ending at or after not_before, by start."""
        later = make_version("later", start=T0 + timedelta(hours=3), nhs_number=NHS_B)
        await store.add_version(later)
        await store.add_version(make_version("moved", start=T0 + timedelta(hours=1)))
        moved = make_version("moved", 2, start=T0 + timedelta(hours=2), nhs_number=None)
        await store.add_version(moved)
        await store.add_version(make_version("past", start=T0 - timedelta(days=1)))

        assert await store.find_upcoming(T0) == [moved, later]

    async def test_find_by_supplier_ref_returns_current_version(self, store: Store) -> None:
        """The supplier's reference on a route finds the appointment's current version."""
        await store.add_version(make_version(supplier_ref="PAS-9"))
        current = make_version(version=2, supplier_ref="PAS-9", status=BookingStatus.CANCELLED)
        await store.add_version(current)

        assert await store.find_by_supplier_ref("embedded", "PAS-9") == current
        assert await store.find_by_supplier_ref("hl7v2", "PAS-9") is None
        assert await store.find_by_supplier_ref("embedded", "PAS-0") is None

    # -- idempotency ledger ----------------------------------------------------

    async def test_claim_new_then_pending_then_done(self, store: Store) -> None:
        """A first claim is NEW, a repeat PENDING, and after completion DONE with the ids."""
        assert await store.claim_request("asid", "r1", "h1", T0, 60) == LedgerClaim(
            ClaimState.NEW, "h1"
        )
        pending = await store.claim_request("asid", "r1", "h2", T0, 60)
        assert (pending.state, pending.body_hash, pending.lease_until) == (
            ClaimState.PENDING,
            "h1",
            T0 + timedelta(seconds=60),
        )

        await store.complete_request("asid", "r1", "appt-1", 1)

        later = T0 + timedelta(days=1)
        done = await store.claim_request("asid", "r1", "h2", later, 60)
        assert (done.state, done.body_hash, done.appointment_id, done.version) == (
            ClaimState.DONE,
            "h1",
            "appt-1",
            1,
        )

    async def test_claims_are_scoped(self, store: Store) -> None:
        """The same request id under two scopes is two independent claims."""
        assert (await store.claim_request("asid-1", "r1", "h", T0, 60)).state is ClaimState.NEW
        assert (await store.claim_request("asid-2", "r1", "h", T0, 60)).state is ClaimState.NEW

    async def test_lapsed_claim_is_taken_over(self, store: Store) -> None:
        """Row 14: a PENDING claim whose lease ended is TAKEN_OVER by the next claimant."""
        await store.claim_request("asid", "r1", "h1", T0, 30, owner="gw-a")

        fresh = await store.claim_request("asid", "r1", "h2", T0 + timedelta(seconds=30), 5, "gw-b")
        assert (fresh.state, fresh.body_hash, fresh.owner, fresh.lease_until) == (
            ClaimState.PENDING,
            "h1",
            "gw-a",
            T0 + timedelta(seconds=30),
        )

        taken = await store.claim_request("asid", "r1", "h2", T0 + timedelta(seconds=31), 5, "gw-b")
        assert taken == LedgerClaim(ClaimState.TAKEN_OVER, "h2", owner="gw-a")

        again = await store.claim_request("asid", "r1", "h3", T0 + timedelta(seconds=35), 5, "gw-c")
        assert (again.state, again.owner) == (ClaimState.PENDING, "gw-b")

    async def test_renewed_claim_stays_its_holders(self, store: Store) -> None:
        """Row 14: renewing a lease keeps the claim from being taken; only its holder renews."""
        await store.claim_request("asid", "r1", "h1", T0, 5, owner="gw-a")
        assert await store.renew_claim("asid", "r1", "gw-a", T0 + timedelta(seconds=20))
        assert not await store.renew_claim("asid", "r1", "gw-b", T0 + timedelta(seconds=60))

        later = await store.claim_request("asid", "r1", "h1", T0 + timedelta(seconds=19), 5, "gw-b")
        assert (later.state, later.lease_until) == (
            ClaimState.PENDING,
            T0 + timedelta(seconds=20),
        )

    async def test_release_by_a_lapsed_holder_keeps_the_new_holders_claim(
        self, store: Store
    ) -> None:
        """Row 14: a holder whose claim was taken over cannot release (or renew) it any more."""
        await store.claim_request("asid", "r1", "h1", T0, 5, owner="gw-a")
        await store.claim_request("asid", "r1", "h1", T0 + timedelta(seconds=6), 5, "gw-b")

        await store.release_request("asid", "r1", "gw-a")
        assert not await store.renew_claim("asid", "r1", "gw-a", T0 + timedelta(seconds=9))

        claim = await store.claim_request("asid", "r1", "h1", T0 + timedelta(seconds=7), 5, "gw-c")
        assert (claim.state, claim.owner) == (ClaimState.PENDING, "gw-b")

    async def test_a_claim_keeps_where_it_was_sent(self, store: Store) -> None:
        """Row 14: find_claim gives a key's state and route, so a resend after a restart routes."""
        assert await store.find_claim("asid", "r1") is None
        await store.claim_request("asid", "r1", "h1", T0, 5, "gw-a", route="rest", service_id="S1")

        pending = await store.find_claim("asid", "r1")
        assert pending is not None
        assert (pending.state, pending.route, pending.service_id, pending.owner) == (
            ClaimState.PENDING,
            "rest",
            "S1",
            "gw-a",
        )
        await store.complete_request("asid", "r1", "appt-1", 1)
        done = await store.find_claim("asid", "r1")
        assert done is not None
        assert (done.state, done.appointment_id, done.route) == (ClaimState.DONE, "appt-1", "rest")

    async def test_work_is_kept_only_while_in_doubt(self, store: Store) -> None:
        """Row 14: a claim's work is listed while pending and gone once done or released."""
        for request_id in ("r1", "r2", "r3"):
            await store.claim_request("asid", request_id, "h", T0, 5, "gw-a", work=request_id)
        await store.claim_request("asid", "r4", "h", T0, 5, "gw-a")  # no work: not listed
        await store.complete_request("asid", "r1", "appt-1", 1)
        await store.release_request("asid", "r2", "gw-a")

        in_doubt = await store.in_doubt_claims()
        assert [(c.request_id, c.owner, c.work) for c in in_doubt] == [("r3", "gw-a", "r3")]
        assert in_doubt[0].lease_until == T0 + timedelta(seconds=5)

    async def test_completion_is_not_overwritten(self, store: Store) -> None:
        """A key already done keeps its first appointment if a lapsed holder completes late."""
        await store.claim_request("asid", "r1", "h1", T0, 5, owner="gw-a")
        await store.claim_request("asid", "r1", "h1", T0 + timedelta(seconds=6), 5, "gw-b")
        await store.complete_request("asid", "r1", "appt-b", 1)
        await store.complete_request("asid", "r1", "appt-a", 1)

        claim = await store.claim_request("asid", "r1", "h1", T0 + timedelta(seconds=7), 5)
        assert (claim.state, claim.appointment_id) == (ClaimState.DONE, "appt-b")

    async def test_version_and_completion_commit_together(self, store: Store) -> None:
        """add_version_and_complete stores the version, completes the claim naming it and
        links the document, in one call."""
        await store.claim_request("asid", "r1", "h1", T0, 5, "gw-a", work="in doubt")
        first = make_version()
        await store.add_version_and_complete(first, "asid", "r1", document_id="doc-1")

        assert await store.versions("appt-1") == [first]
        done = await store.find_claim("asid", "r1")
        assert done is not None
        assert (done.state, done.appointment_id, done.version) == (ClaimState.DONE, "appt-1", 1)
        assert await store.in_doubt_claims() == []
        assert await store.document_appointment("doc-1") == "appt-1"

    async def test_version_and_completion_without_a_request_id_adds_the_version(
        self, store: Store
    ) -> None:
        """With no request id (and no document) add_version_and_complete is add_version."""
        await store.add_version_and_complete(make_version(), "asid", None)
        await store.add_version_and_complete(make_version(version=2), "asid", None)
        assert [v.version for v in await store.versions("appt-1")] == [1, 2]

    async def test_a_conflicting_version_leaves_the_claim_pending(self, store: Store) -> None:
        """A VersionConflict in add_version_and_complete completes nothing and links nothing."""
        await store.add_version(make_version())
        await store.claim_request("asid", "r1", "h1", T0, 5, "gw-a")
        with pytest.raises(VersionConflict):
            await store.add_version_and_complete(
                make_version(description="other"), "asid", "r1", document_id="doc-1"
            )
        claim = await store.find_claim("asid", "r1")
        assert claim is not None and claim.state is ClaimState.PENDING
        assert await store.document_appointment("doc-1") is None
        assert [v.booking.description for v in await store.versions("appt-1")] == ["urgent care"]

    async def test_a_done_claim_keeps_its_first_outcome(self, store: Store) -> None:
        """add_version_and_complete on a claim already done adds the version, keeps the claim."""
        await store.claim_request("asid", "r1", "h1", T0, 5, "gw-a")
        await store.complete_request("asid", "r1", "appt-b", 3)
        await store.add_version_and_complete(make_version(), "asid", "r1")
        claim = await store.find_claim("asid", "r1")
        assert claim is not None and (claim.appointment_id, claim.version) == ("appt-b", 3)
        assert await store.get("appt-1") == make_version()

    async def test_released_claim_can_be_claimed_again(self, store: Store) -> None:
        """After release_request the key is unseen again, so a retry is NEW."""
        await store.claim_request("asid", "r1", "h1", T0, 60)
        await store.release_request("asid", "r1")

        claim = await store.claim_request("asid", "r1", "h2", T0, 60)
        assert claim == LedgerClaim(ClaimState.NEW, "h2")

    async def test_release_of_unknown_key_is_harmless(self, store: Store) -> None:
        """Releasing a key that was never claimed does nothing."""
        await store.release_request("asid", "never")

    async def test_concurrent_claims_of_one_key_exactly_one_new(self, store: Store) -> None:
        """Twenty concurrent claims of one key: exactly one NEW, the rest PENDING."""
        claims = await asyncio.gather(
            *(store.claim_request("asid", "r1", f"h{n}", T0, 60) for n in range(20))
        )

        states = [c.state for c in claims]
        assert states.count(ClaimState.NEW) == 1
        assert states.count(ClaimState.PENDING) == 19
        winner = next(c for c in claims if c.state is ClaimState.NEW)
        assert all(c.body_hash == winner.body_hash for c in claims)

    # -- slot homes (gateway/routing.py) ------------------------------------------

    async def test_slot_homes_round_trip_and_the_last_write_wins(self, store: Store) -> None:
        """A noted slot home is read back; noting it again elsewhere replaces it."""
        assert await store.slot_home("slot:s1") is None
        await store.record_slot_homes(
            [
                SlotHomeRow("slot:s1", "diary", "918999198999"),
                SlotHomeRow("schedule:x", "pas", None),
            ],
            T0,
        )
        assert await store.slot_home("slot:s1") == SlotHomeRow("slot:s1", "diary", "918999198999")
        assert await store.slot_home("schedule:x") == SlotHomeRow("schedule:x", "pas", None)
        await store.record_slot_homes([SlotHomeRow("slot:s1", "rest", "555")], T0)
        assert await store.slot_home("slot:s1") == SlotHomeRow("slot:s1", "rest", "555")
        await store.record_slot_homes([], T0)

    async def test_noshows_between_finds_the_version_that_marked_a_dna(self, store: Store) -> None:
        """Only the version that turned an appointment noshow, made in the period, is a DNA."""
        now = datetime.now(UTC)

        added: list[AppointmentVersion] = []

        def at(appointment_id: str, number: int, status: BookingStatus, hours: float) -> None:
            version = make_version(appointment_id, number, status=status)
            added.append(dataclasses.replace(version, last_modified=now + timedelta(hours=hours)))

        at("dna", 1, BookingStatus.BOOKED, -5)
        at("dna", 2, BookingStatus.NOSHOW, -2)
        at("dna", 3, BookingStatus.NOSHOW, -1)  # a later change of a DNA is not another
        at("early", 1, BookingStatus.BOOKED, -30)
        at("early", 2, BookingStatus.NOSHOW, -26)  # before the period
        at("kept", 1, BookingStatus.BOOKED, -3)
        for version in added:
            await store.add_version(version)

        found = await store.noshows_between(now - timedelta(hours=24), now)
        assert [(v.appointment_id, v.version) for v in found] == [("dna", 2)]

    async def test_audit_of_appointments_finds_their_entries_whenever_made(
        self, store: Store
    ) -> None:
        """The entries naming the appointments asked for come back oldest first, others not."""
        now = datetime.now(UTC)
        old = AuditEntry(
            at=now - timedelta(days=40),
            interaction="book",
            method="POST",
            path="/Appointment",
            status=201,
            appointment_id="appt-a",
            cross_border=True,
        )
        later = dataclasses.replace(old, at=now, interaction="cancel", status=200)
        other = dataclasses.replace(old, appointment_id="appt-b")
        await store.record_audits([later, other, old])

        assert await store.audit_of_appointments(["appt-a", "nope"]) == [old, later]
        assert await store.audit_of_appointments([]) == []

    # -- audit -----------------------------------------------------------------

    async def test_audit_round_trip_newest_first(self, store: Store) -> None:
        """Every AuditEntry field survives storage; entries come back newest first, limited."""
        full = AuditEntry(
            at=T0 + timedelta(minutes=1),
            interaction="book",
            method="POST",
            path="/Appointment",
            status=201,
            request_id="r1",
            correlation_id="c1",
            trace_id="t1",
            consumer_asid="200000000001",
            organisation_ods="A81001",
            organisation_name="Practice",
            device_id="dev-1",
            practitioner_id="prac-1",
            practitioner_name="Dr Claire Jones",
            practitioner_role="444555666777",
            appointment_id="appt-1",
            outcome="booked",
        )
        bare = AuditEntry(at=T0, interaction="search", method="GET", path="/Slot", status=200)
        await store.record_audit(bare)
        await store.record_audit(full)

        assert await store.audit_entries() == [full, bare]
        assert await store.audit_entries(limit=1) == [full]
        got = (await store.audit_entries())[0]
        assert got.at.utcoffset() == timedelta(0)
