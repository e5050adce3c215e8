"""The HL7 outbox, ITK receipt and unbooked-referral part of the Store contract: every
backend's test class subclasses ``WorkContract`` beside ``StoreContract``.

Speaks only the ``Store`` Protocol, on the ``store`` fixture (an opened, empty store).
"""

from __future__ import annotations

from datetime import timedelta

from adapters.domain import ReferralStatus
from gateway.store.base import Hl7Origin, NoticeOutcome, Store
from tests.store.contract import T0, make_version
from tests.store.referral_contract import make_referral

LEASE_S = 30.0


class WorkContract:
    """Outbox entries follow supplier-side versions in order; ITK receipts are claimed once."""

    async def test_only_supplier_side_versions_of_hl7_bookings_are_told(self, store: Store) -> None:
        """The first origin stands; only supplier-side versions of such a booking are
        outbox entries, leased in order, retried when due, ended as told."""
        await store.add_version(make_version("a", 1))
        await store.record_hl7_origin(Hl7Origin("a", "CAS-APP", "CAS-NORTH", "PL-1", T0))
        await store.record_hl7_origin(Hl7Origin("a", "OTHER", "OTHER", "PL-2", T0))
        origin = await store.hl7_origin("a")
        assert origin == Hl7Origin("a", "CAS-APP", "CAS-NORTH", "PL-1", T0)
        assert origin.recorded_at.utcoffset() == timedelta(0)
        assert await store.hl7_origin("b") is None
        await store.add_version(make_version("a", 2))  # the consumer's own change
        await store.add_version(make_version("a", 3), supplier_side=True)
        await store.add_version(make_version("a", 4), supplier_side=True)
        await store.add_version(make_version("b", 1, supplier_ref="R2"), supplier_side=True)

        later = T0 + timedelta(days=1)
        work = await store.lease_hl7_notice("w", later, LEASE_S)
        assert work is not None and (work.appointment_id, work.version, work.attempts) == (
            "a",
            3,
            1,
        )
        assert await store.lease_hl7_notice("w", later, LEASE_S) is None  # v4 waits for v3
        await store.finish_hl7_notice(work, later, NoticeOutcome.REFUSED, "AR:207")
        nxt = await store.lease_hl7_notice("w", later, LEASE_S)
        assert nxt is not None and nxt.version == 4
        await store.retry_hl7_notice(nxt, later + timedelta(seconds=5), "transport_unreachable")
        assert await store.lease_hl7_notice("w", later, LEASE_S) is None  # not due yet
        again = await store.lease_hl7_notice("w", later + timedelta(seconds=6), LEASE_S)
        assert again is not None and again.attempts == 2
        await store.finish_hl7_notice(again, later, NoticeOutcome.DELIVERED)

        states = [(n.version, n.state, n.last_error) for n in await store.hl7_notices("a")]
        assert states == [(3, "refused", "AR:207"), (4, "delivered", None)]
        assert await store.hl7_notices("b") == []

    async def test_a_lapsed_notice_lease_is_taken_over(self, store: Store) -> None:
        """An outbox entry whose holder stopped is leased again once its lease has ended."""
        await store.add_version(make_version("a", 1))
        await store.record_hl7_origin(Hl7Origin("a", "APP", "FAC", "", T0))
        await store.add_version(make_version("a", 2), supplier_side=True)
        now = T0 + timedelta(minutes=1)
        taken = await store.lease_hl7_notice("dead", now, LEASE_S)
        assert taken is not None
        assert await store.lease_hl7_notice("live", now + timedelta(seconds=29), LEASE_S) is None
        over = await store.lease_hl7_notice("live", now + timedelta(seconds=31), LEASE_S)
        assert over is not None and (over.seq, over.attempts) == (taken.seq, 2)

    async def test_an_itk_receipt_is_exclusive_until_answered_then_replayed(
        self, store: Store
    ) -> None:
        """A second claim sees the pending receipt; after the answer every claim gets it."""
        assert await store.claim_itk_receipt("T1", "h", "a", T0, LEASE_S) is None
        assert await store.claim_itk_receipt("T1", "h", "a", T0, LEASE_S) is None  # its own
        held = await store.claim_itk_receipt("T1", "h", "b", T0, LEASE_S)
        assert held is not None and not held.answered and held.received_at == T0
        await store.answer_itk_receipt("T1", "a", b"<ok/>", ["R1", "R2"], T0)
        held = await store.claim_itk_receipt("T1", "h", "b", T0 + timedelta(hours=1), LEASE_S)
        assert held is not None and held.answered and held.answer == b"<ok/>"
        assert held.referral_ids == ("R1", "R2")

    async def test_a_lapsed_itk_claim_is_taken_over_and_a_released_one_forgotten(
        self, store: Store
    ) -> None:
        """A claim whose lease ran out goes to the next sender; its late answer is ignored."""
        assert await store.claim_itk_receipt("T1", "h", "a", T0, LEASE_S) is None
        later = T0 + timedelta(seconds=31)
        assert await store.claim_itk_receipt("T1", "h", "b", later, LEASE_S) is None
        await store.answer_itk_receipt("T1", "a", b"late", [], later)  # no longer a's
        held = await store.claim_itk_receipt("T1", "h", "c", later, LEASE_S)
        assert held is not None and not held.answered
        await store.release_itk_receipt("T1", "a")  # not a's: kept
        assert await store.claim_itk_receipt("T1", "h", "c", later, LEASE_S) is not None
        await store.release_itk_receipt("T1", "b")
        assert await store.claim_itk_receipt("T1", "h", "c", later, LEASE_S) is None

    async def test_unbooked_referrals_are_live_unlinked_and_flagged_once(
        self, store: Store
    ) -> None:
        """Live referrals with no appointment, received by the cut-off, oldest first; a
        flag is new only once."""
        await store.add_referral_version(make_referral("late"))
        await store.add_referral_version(make_referral("late", 2, document_id="doc-9"))
        await store.add_referral_version(make_referral("booked", appointment_id="appt-1"))
        await store.add_referral_version(make_referral("gone"))
        await store.add_referral_version(make_referral("gone", 2, status=ReferralStatus.REVOKED))

        received = T0 + timedelta(seconds=1)
        assert await store.unbooked_referrals(received - timedelta(microseconds=1)) == []
        (found,) = await store.unbooked_referrals(received)
        assert (found.referral_id, found.service_id, found.document_id) == (
            "late",
            "svc-1",
            "doc-9",
        )
        assert found.received_at == received and found.received_at.utcoffset() == timedelta(0)

        assert await store.flag_unbooked("late", T0)
        assert not await store.flag_unbooked("late", T0 + timedelta(hours=1))
